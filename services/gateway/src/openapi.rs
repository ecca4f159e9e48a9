//! The OpenAPI 3.1 document of the public API, served at `/openapi.json`.
//!
//! Hand-written, because the interesting parts (which problem answers each
//! call can give, what the headers mean) are not in the types. A test
//! checks it documents exactly the routes the router serves.

use serde_json::{Map, Value, json};

/// Problem answers every operation can give.
const COMMON_ERRORS: &[&str] = &["429", "502", "503", "504"];

/// The document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tributary public API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Register, log in, place orders and follow their saga, administer stock. \
                Errors are RFC 9457 `application/problem+json` documents; 4xx answers say what is wrong \
                (`errors` names the offending fields). Every answer carries `x-request-id`.",
        },
        "servers": [{"url": "/"}],
        "paths": paths(),
        "components": components(),
    })
}

fn paths() -> Value {
    json!({
        "/v1/users": {
            "post": op("register", "Register a customer account", false,
                Some("RegisterRequest"),
                &[("201", "The account.", Some("User"))],
                &["400", "409", "413", "415", "422"], &[]),
        },
        "/v1/sessions": {
            "post": op("login", "Log in: get a bearer token", false,
                Some("LoginRequest"),
                &[("201", "A session token.", Some("Session"))],
                &["400", "401", "413", "415", "422"], &[]),
        },
        "/v1/orders": {
            "post": with_header(
                op("placeOrder", "Place an order (starts the order saga)", true,
                    Some("PlaceOrderRequest"),
                    &[("202", "Accepted; the saga runs asynchronously. `Location` names the order. \
                        A replay of an earlier request with the same `Idempotency-Key` answers the same \
                        and sets `Idempotent-Replayed: true`.", Some("OrderAccepted"))],
                    &["400", "401", "403", "409", "413", "415", "422"],
                    &[json!({"$ref": "#/components/parameters/IdempotencyKey"})]),
                "202", "Location", "The order's URL, `/v1/orders/{id}`."),
            "get": op("listOrders", "A customer's orders, newest first (yourself unless admin)", true, None,
                &[("200", "The orders.", Some("OrderList"))],
                &["400", "401", "403", "422"],
                &[
                    json!({"name": "customer", "in": "query", "required": false,
                        "description": "Customer id; defaults to the caller. Others' need the admin role.",
                        "schema": {"type": "string", "format": "uuid"}}),
                    json!({"name": "limit", "in": "query", "required": false,
                        "schema": {"type": "integer", "minimum": 1}}),
                ]),
        },
        "/v1/orders/{id}": {
            "get": op("getOrder", "One order (its customer or an admin)", true, None,
                &[("200", "The order.", Some("Order"))],
                &["401", "404"],
                &[json!({"$ref": "#/components/parameters/OrderId"})]),
        },
        "/v1/orders/{id}/timeline": {
            "get": op("getOrderTimeline", "The order's saga events with step latencies", true, None,
                &[("200", "The timeline.", Some("Timeline"))],
                &["401", "404"],
                &[json!({"$ref": "#/components/parameters/OrderId"})]),
        },
        "/v1/stock/{sku}": {
            "put": op("addStock", "Add stock and set the price (admin)", true,
                Some("AddStockRequest"),
                &[("200", "The SKU's stock after the addition.", Some("Stock"))],
                &["400", "401", "403", "409", "413", "415", "422"],
                &[json!({"$ref": "#/components/parameters/Sku"})]),
            "get": op("getStock", "One SKU's stock", true, None,
                &[("200", "The stock.", Some("Stock"))],
                &["401", "404"],
                &[json!({"$ref": "#/components/parameters/Sku"})]),
        },
        "/v1/analytics/windows": {
            "get": op("analyticsWindows", "Per-minute event-time windows (admin)", true, None,
                &[("200", "Windows overlapping the range, oldest first.", Some("AnalyticsWindows"))],
                &["400", "401", "403", "422"],
                &[
                    json!({"name": "from", "in": "query", "required": false,
                        "description": "RFC 3339 time or unix milliseconds; default one hour before `to`.",
                        "schema": {"type": "string"}}),
                    json!({"name": "to", "in": "query", "required": false,
                        "description": "RFC 3339 time or unix milliseconds; default now.",
                        "schema": {"type": "string"}}),
                ]),
        },
        "/v1/analytics/summary": {
            "get": op("analyticsSummary", "All-time totals and the watermark (admin)", true, None,
                &[("200", "The summary.", Some("AnalyticsSummary"))],
                &["401", "403"], &[]),
        },
        "/openapi.json": {
            "get": op("openapi", "This document", false, None,
                &[("200", "The OpenAPI document.", None)], &[], &[]),
        },
    })
}

/// One operation: its body schema, success answers and problem answers.
fn op(
    id: &str,
    summary: &str,
    authenticated: bool,
    body: Option<&str>,
    success: &[(&str, &str, Option<&str>)],
    errors: &[&str],
    parameters: &[Value],
) -> Value {
    let mut responses = Map::new();
    for (status, description, schema) in success {
        let mut response = json!({"description": description});
        if let Some(schema) = schema {
            response["content"] = json!({"application/json": {"schema": schema_ref(schema)}});
        }
        responses.insert((*status).to_owned(), response);
    }
    let mut all_errors: Vec<&str> = errors.to_vec();
    if authenticated && !all_errors.contains(&"401") {
        all_errors.push("401");
    }
    all_errors.extend_from_slice(COMMON_ERRORS);
    for status in all_errors {
        responses.insert(
            status.to_owned(),
            json!({"$ref": format!("#/components/responses/{}", problem_name(status))}),
        );
    }
    let mut operation = json!({
        "operationId": id,
        "summary": summary,
        "responses": responses,
    });
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters.to_vec());
    }
    if let Some(body) = body {
        operation["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": schema_ref(body)}},
        });
    }
    if authenticated {
        operation["security"] = json!([{"bearerAuth": []}]);
    }
    operation
}

fn with_header(mut operation: Value, status: &str, name: &str, description: &str) -> Value {
    operation["responses"][status]["headers"] = json!({
        name: {"description": description, "schema": {"type": "string"}},
    });
    operation
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The shared problem answer for a status.
fn problem_name(status: &str) -> &'static str {
    match status {
        "400" => "BadRequest",
        "401" => "Unauthorized",
        "403" => "Forbidden",
        "404" => "NotFound",
        "409" => "Conflict",
        "413" => "PayloadTooLarge",
        "415" => "UnsupportedMediaType",
        "422" => "UnprocessableContent",
        "429" => "TooManyRequests",
        "502" => "BadGateway",
        "503" => "ServiceUnavailable",
        "504" => "GatewayTimeout",
        _ => "Problem",
    }
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": schema_ref("Problem")}},
    })
}

fn components() -> Value {
    let mut responses = Map::new();
    for (status, description) in [
        (
            "400",
            "The request cannot be read: malformed JSON, bad query string or header.",
        ),
        (
            "401",
            "Missing, invalid or expired bearer token, or wrong credentials. Carries `WWW-Authenticate: Bearer`.",
        ),
        ("403", "The caller's role does not allow this."),
        ("404", "No such resource (or not yours)."),
        (
            "409",
            "The request conflicts with the current state (for example an e-mail already registered).",
        ),
        ("413", "The body exceeds the size limit."),
        ("415", "The body is not `application/json`."),
        (
            "422",
            "Well-formed JSON with invalid content: missing fields, wrong types, out-of-range values, unknown SKUs, a reused Idempotency-Key; `errors` names the fields.",
        ),
        (
            "429",
            "Over the client's rate limit; `Retry-After` says when to retry.",
        ),
        ("502", "A service behind the gateway failed."),
        (
            "503",
            "A service behind the gateway is unavailable; `Retry-After` may be set.",
        ),
        (
            "504",
            "A service behind the gateway did not answer in time.",
        ),
    ] {
        responses.insert(
            problem_name(status).to_owned(),
            problem_response(description),
        );
    }
    json!({
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "A token from POST /v1/sessions (HS256; issuer, audience and expiry are checked)."},
        },
        "parameters": {
            "IdempotencyKey": {"name": "Idempotency-Key", "in": "header", "required": false,
                "description": "1 to 255 visible ASCII characters, unique per client and request. A repeat with the same key and body returns the first answer without placing another order; the same key with another body is a 422.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
            "OrderId": {"name": "id", "in": "path", "required": true,
                "schema": {"type": "string", "format": "uuid"}},
            "Sku": {"name": "sku", "in": "path", "required": true,
                "schema": {"$ref": "#/components/schemas/Sku"}},
        },
        "responses": responses,
        "schemas": schemas(),
    })
}

fn schemas() -> Value {
    let uuid = json!({"type": "string", "format": "uuid"});
    let millis = json!({"type": "integer", "description": "Unix milliseconds."});
    let status = json!({"type": "string", "enum": ["PENDING", "CONFIRMED", "CANCELLED"]});
    json!({
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": {
                    "type": "object", "required": ["field", "detail"],
                    "properties": {"field": {"type": "string", "description": "Path in the body, e.g. `lines[0].quantity`."},
                                   "detail": {"type": "string"}}}},
                "request_id": {"type": "string"},
            },
        },
        "Sku": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
        "RegisterRequest": {
            "type": "object", "additionalProperties": false,
            "required": ["email", "password", "name"],
            "properties": {
                "email": {"type": "string", "format": "email", "maxLength": 254},
                "password": {"type": "string", "minLength": 8, "maxLength": 128, "writeOnly": true},
                "name": {"type": "string", "minLength": 1, "maxLength": 100},
            },
        },
        "User": {
            "type": "object", "required": ["id", "email", "name"],
            "properties": {
                "id": uuid, "email": {"type": "string"}, "name": {"type": "string"},
                "role": {"type": "string", "enum": ["customer", "admin"]},
                "created_at": millis,
            },
        },
        "LoginRequest": {
            "type": "object", "additionalProperties": false,
            "required": ["email", "password"],
            "properties": {"email": {"type": "string"}, "password": {"type": "string", "writeOnly": true}},
        },
        "Session": {
            "type": "object", "required": ["token", "expires_at"],
            "properties": {
                "token": {"type": "string", "description": "Send as `Authorization: Bearer <token>`."},
                "token_type": {"type": "string", "enum": ["Bearer"]},
                "expires_at": {"type": "string", "format": "date-time"},
            },
        },
        "PlaceOrderRequest": {
            "type": "object", "additionalProperties": false,
            "required": ["lines", "payment"],
            "properties": {
                "lines": {"type": "array", "minItems": 1, "maxItems": 50, "items": {
                    "type": "object", "additionalProperties": false, "required": ["sku", "quantity"],
                    "properties": {
                        "sku": {"$ref": "#/components/schemas/Sku"},
                        "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
                    }}},
                "payment": {"type": "object", "additionalProperties": false, "required": ["token"],
                    "properties": {"token": {"type": "string", "minLength": 1, "maxLength": 256,
                        "description": "Opaque token the payment provider charges."}}},
            },
        },
        "OrderAccepted": {
            "type": "object", "required": ["id", "status"],
            "properties": {"id": uuid, "status": {"type": "string", "enum": ["PENDING"]}},
        },
        "Order": {
            "type": "object", "required": ["id", "status", "lines", "customer_id"],
            "properties": {
                "id": uuid, "status": status,
                "reason": {"type": ["string", "null"], "enum": ["STOCK_REJECTED", "PAYMENT_DECLINED", "TIMEOUT", "OTHER", null]},
                "detail": {"type": ["string", "null"]},
                "total_cents": {"type": ["integer", "null"]},
                "lines": {"type": "array", "items": {"type": "object", "properties": {
                    "sku": {"type": "string"}, "quantity": {"type": "integer"}}}},
                "customer_id": uuid,
                "placed_at": millis, "updated_at": millis,
                "decided_at": {"type": ["integer", "null"]},
            },
        },
        "OrderList": {
            "type": "object", "required": ["customer_id", "orders"],
            "properties": {"customer_id": uuid, "orders": {"type": "array", "items": schema_ref("Order")}},
        },
        "Timeline": {
            "type": "object", "required": ["order_id", "status", "entries"],
            "properties": {
                "order_id": uuid, "status": status, "placed_at": millis,
                "decided_at": {"type": ["integer", "null"]},
                "duration_ms": {"type": ["integer", "null"]},
                "entries": {"type": "array", "items": {"type": "object",
                    "description": "One saga event, with `latency_ms` since the previous and `since_start_ms`."}},
                "truncated": {"type": "boolean"},
            },
        },
        "AddStockRequest": {
            "type": "object", "additionalProperties": false,
            "required": ["quantity", "price_cents"],
            "properties": {
                "quantity": {"type": "integer", "minimum": 1, "description": "Units to add."},
                "price_cents": {"type": "integer", "minimum": 0, "description": "Unit price from now on."},
            },
        },
        "Stock": {
            "type": "object", "required": ["sku", "available", "reserved", "price_cents"],
            "properties": {
                "sku": {"type": "string"},
                "available": {"type": "integer", "description": "Units free to order (held reservations excluded)."},
                "reserved": {"type": "integer"},
                "price_cents": {"type": "integer"},
                "added": {"type": "integer"},
                "committed": {"type": "integer"},
            },
        },
        "AnalyticsWindows": {
            "type": "object", "required": ["window_ms", "windows"],
            "properties": {
                "window_ms": {"type": "integer"},
                "from_ms": millis, "to_ms": millis,
                "watermark_ms": {"type": ["integer", "null"]},
                "windows": {"type": "array", "items": {"type": "object",
                    "description": "Counts of one window: orders placed/confirmed/cancelled, revenue, cancellation reasons, saga duration percentiles; `final` once the watermark passed its end."}},
            },
        },
        "AnalyticsSummary": {
            "type": "object",
            "properties": {
                "window_ms": {"type": "integer"},
                "watermark_ms": {"type": ["integer", "null"]},
                "totals": {"type": "object"},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_served_route_is_documented_and_nothing_else() {
        let doc = document();
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .expect("path item")
                    .keys()
                    .map(move |method| (method.to_uppercase(), path.clone()))
            })
            .collect();
        let served: BTreeSet<(String, String)> = crate::routes::routes()
            .served()
            .iter()
            .map(|(method, path)| (method.as_str().to_owned(), (*path).to_owned()))
            .collect();
        assert_eq!(documented, served);
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(refs.len() > 20);
        for reference in refs {
            let pointer = reference.strip_prefix('#').expect("local ref");
            assert!(doc.pointer(pointer).is_some(), "dangling {reference}");
        }
    }

    #[test]
    fn every_operation_has_a_success_and_problem_answers() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("item") {
                let responses = operation["responses"].as_object().expect("responses");
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path} has no success answer"
                );
                assert!(
                    responses.contains_key("503"),
                    "{method} {path} lacks the upstream problems"
                );
                if operation.get("security").is_some() {
                    assert!(responses.contains_key("401"), "{method} {path}");
                }
            }
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    if key == "$ref" {
                        out.push(v.as_str().expect("ref string").to_owned());
                    } else {
                        collect_refs(v, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
