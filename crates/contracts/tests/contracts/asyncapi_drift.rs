//! `docs/asyncapi.yaml` must be what the current schemas render to.

use tributary_contracts::asyncapi;

#[test]
fn committed_asyncapi_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/asyncapi.yaml");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let rendered = asyncapi::render();
    if committed != rendered {
        let first_difference = committed
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "at the end".to_owned(),
                |line| format!("at line {}", line + 1),
            );
        panic!(
            "{} is out of date with schemas/ (first difference {first_difference}); regenerate it with `{}`",
            asyncapi::DOCUMENT_PATH,
            asyncapi::REGENERATE_COMMAND
        );
    }
}
