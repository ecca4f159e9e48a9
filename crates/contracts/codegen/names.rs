//! Name conversions between Avro and Rust.

/// Appends one formatted line to a `String` of generated code.
macro_rules! emit {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}
pub(crate) use emit;

/// Splits `OrderPlaced` / `order_placed` / `ORDER_PLACED` into lowercase words.
fn words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let starts_word = c.is_ascii_uppercase()
            && !current.is_empty()
            && (chars[i - 1].is_ascii_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase()));
        if starts_word {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `OrderPlaced` -> `order_placed`.
pub fn snake_case(name: &str) -> String {
    words(name).join("_")
}

/// `STOCK_REJECTED` -> `StockRejected`.
pub fn upper_camel(name: &str) -> String {
    words(name)
        .iter()
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `OrderPlaced` -> `order.placed`: CloudEvents type suffix and AMQP routing key.
pub fn event_type(record_name: &str) -> String {
    words(record_name).join(".")
}

/// A Rust identifier for an Avro field name, raw if it is a keyword.
pub fn field_ident(name: &str) -> Result<String, String> {
    const KEYWORDS: [&str; 38] = [
        "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern",
        "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "static", "struct", "trait", "true", "type", "unsafe",
        "use", "where", "while", "abstract", "become", "box",
    ];
    const NOT_RAW: [&str; 4] = ["self", "Self", "super", "crate"];
    let ident = snake_case(name);
    if NOT_RAW.contains(&ident.as_str()) {
        return Err(format!("field name `{name}` cannot be a Rust identifier"));
    }
    Ok(if KEYWORDS.contains(&ident.as_str()) {
        format!("r#{ident}")
    } else {
        ident
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_names() {
        assert_eq!(snake_case("OrderPlaced"), "order_placed");
        assert_eq!(snake_case("order_id"), "order_id");
        assert_eq!(upper_camel("STOCK_REJECTED"), "StockRejected");
        assert_eq!(event_type("UserRegistered"), "user.registered");
        assert_eq!(field_ident("type").as_deref(), Ok("r#type"));
    }
}
