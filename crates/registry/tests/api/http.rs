//! The REST API's shapes as Confluent clients see them: bodies, media type,
//! configuration endpoints, compatibility checks, and bad requests.

use reqwest::Method;
use serde_json::json;
use tributary_testkit::unique_name;

use crate::helpers::{BREAKING, TestApp, V1, V2, schema_body};

#[tokio::test]
async fn api_shapes_match_confluent() {
    let app = TestApp::spawn().await;
    let registry = &app.registry;
    let subject = unique_name("things-test.Thing");

    assert_eq!(registry.get("/").await, (200, json!({})));
    assert_eq!(registry.get("/health/live").await.0, 200);
    assert_eq!(registry.get("/health/ready").await.0, 200);
    assert_eq!(registry.get("/schemas/types").await, (200, json!(["AVRO"])));

    let response = registry
        .http
        .get(format!("{}/subjects", registry.base_url))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/vnd.schemaregistry.v1+json")
    );

    // Register with plain application/json, as many clients do.
    let response = registry
        .http
        .post(format!("{}/subjects/{subject}/versions", registry.base_url))
        .header("content-type", "application/json")
        .body(schema_body(V1))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    let id: serde_json::Value = response.json().await.expect("json");
    let id = id["id"].as_u64().expect("an id");

    let (status, body) = registry
        .post(&format!("/subjects/{subject}"), &schema_body(V1))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"subject": subject, "version": 1, "id": id, "schema": V1})
    );
    let (status, body) = registry
        .get(&format!("/subjects/{subject}/versions/latest"))
        .await;
    assert_eq!((status, &body["version"]), (200, &json!(1)));
    let (status, body) = registry
        .get(&format!("/subjects/{subject}/versions/1/schema"))
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            serde_json::from_str::<serde_json::Value>(V1).expect("json")
        )
    );
    assert_eq!(
        registry.get(&format!("/schemas/ids/{id}")).await,
        (200, json!({"schema": V1}))
    );
    assert_eq!(
        registry.get(&format!("/schemas/ids/{id}/versions")).await,
        (200, json!([{"subject": subject, "version": 1}]))
    );

    // Compatibility checks, verbose or not.
    let path = format!("/compatibility/subjects/{subject}/versions/latest");
    assert_eq!(
        registry.post(&path, &schema_body(V2)).await,
        (200, json!({"is_compatible": true}))
    );
    let (status, body) = registry
        .post(&format!("{path}?verbose=true"), &schema_body(BREAKING))
        .await;
    assert_eq!((status, &body["is_compatible"]), (200, &json!(false)));
    assert!(
        body["messages"].as_array().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    let (status, body) = registry
        .post(
            &format!("/compatibility/subjects/{subject}/versions/9"),
            &schema_body(V2),
        )
        .await;
    assert_eq!((status, &body["error_code"]), (404, &json!(40402)));

    // Global and subject configuration.
    assert_eq!(
        registry.get("/config").await,
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );
    let (status, body) = registry.get(&format!("/config/{subject}")).await;
    assert_eq!((status, &body["error_code"]), (404, &json!(40408)));
    assert_eq!(
        registry
            .get(&format!("/config/{subject}?defaultToGlobal=true"))
            .await,
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );
    assert_eq!(
        registry.put("/config", r#"{"compatibility":"FULL"}"#).await,
        (200, json!({"compatibility": "FULL"}))
    );
    assert_eq!(
        registry.get("/config").await,
        (200, json!({"compatibilityLevel": "FULL"}))
    );
    assert_eq!(
        registry
            .put(
                &format!("/config/{subject}"),
                r#"{"compatibility":"forward_transitive"}"#
            )
            .await,
        (200, json!({"compatibility": "FORWARD_TRANSITIVE"}))
    );
    assert_eq!(
        registry.get(&format!("/config/{subject}")).await,
        (200, json!({"compatibilityLevel": "FORWARD_TRANSITIVE"}))
    );
    let (status, body) = registry
        .put("/config", r#"{"compatibility":"SIDEWAYS"}"#)
        .await;
    assert_eq!((status, &body["error_code"]), (422, &json!(42203)));

    // Soft delete: gone from listings, id still resolvable.
    let (status, body) = registry
        .call(Method::DELETE, &format!("/subjects/{subject}"), None)
        .await;
    assert_eq!((status, body), (200, json!([1])));
    assert_eq!(registry.get("/subjects").await, (200, json!([])));
    assert_eq!(registry.get(&format!("/schemas/ids/{id}")).await.0, 200);
}

#[tokio::test]
async fn bad_requests_get_confluent_errors_never_5xx() {
    let app = TestApp::spawn().await;
    let registry = &app.registry;
    let path = "/subjects/s/versions";

    let (status, body) = registry.post(path, "{\"schema\": ").await;
    assert_eq!((status, &body["error_code"]), (400, &json!(400)), "{body}");
    let (status, body) = registry.post(path, r#"{"schemata": "x"}"#).await;
    assert_eq!((status, &body["error_code"]), (422, &json!(422)), "{body}");
    let (status, body) = registry.post(path, r#"{"schema": 42}"#).await;
    assert_eq!((status, &body["error_code"]), (422, &json!(422)), "{body}");

    let response = registry
        .http
        .post(format!("{}{path}", registry.base_url))
        .header("content-type", "text/plain")
        .body(schema_body(V1))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 415);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error_code"], 415);

    let (status, body) = registry.get("/no/such/route").await;
    assert_eq!((status, &body["error_code"]), (404, &json!(404)));
    let (status, body) = registry.call(Method::PATCH, "/subjects", None).await;
    assert_eq!((status, &body["error_code"]), (405, &json!(405)));
    let (status, body) = registry.get("/schemas/ids/not-a-number").await;
    assert_eq!((status, &body["error_code"]), (404, &json!(40403)));
    let refs = json!({"schema": V1, "references": [{"name": "x", "subject": "y", "version": 1}]})
        .to_string();
    let (status, body) = registry.post(path, &refs).await;
    assert_eq!((status, &body["error_code"]), (422, &json!(42201)));
}
