//! Register, look up and read back through our own `RegistryClient`, and the
//! rejections a client acts on.

use tributary_registry::{RegistryError, codes};
use tributary_testkit::unique_name;

use crate::helpers::{BREAKING, TestApp, V1, V2, schema_body};

#[tokio::test]
async fn register_lookup_and_read_back_round_trip() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let subject = unique_name("things-test.Thing");
    let other = unique_name("other-test.Thing");

    let id1 = client.register(&subject, V1).await.expect("register v1");
    assert_eq!(
        client.register(&subject, V1).await.expect("register again"),
        id1,
        "same schema, same id"
    );
    let id2 = client.register(&subject, V2).await.expect("register v2");
    assert_ne!(id1, id2);
    assert_eq!(
        client
            .register(&other, V1)
            .await
            .expect("register under another subject"),
        id1,
        "global id reused"
    );

    // Bypass the client's cache: the server itself answers with the same id.
    let (status, body) = app
        .registry
        .post(&format!("/subjects/{subject}/versions"), &schema_body(V1))
        .await;
    assert_eq!((status, body["id"].as_u64()), (200, Some(u64::from(id1))));

    let found = client
        .lookup(&subject, V2)
        .await
        .expect("lookup")
        .expect("v2 is registered");
    assert_eq!(
        (found.subject.as_str(), found.version, found.id),
        (subject.as_str(), 2, id2)
    );
    assert_eq!(
        client.lookup(&subject, BREAKING).await.expect("lookup"),
        None,
        "unknown schema"
    );
    assert_eq!(
        client.lookup("no-such-subject", V1).await.expect("lookup"),
        None,
        "unknown subject"
    );

    let mut subjects = client.subjects().await.expect("subjects");
    subjects.sort();
    let mut expected = vec![subject.clone(), other.clone()];
    expected.sort();
    assert_eq!(subjects, expected);
    assert_eq!(
        client.versions(&subject).await.expect("versions"),
        vec![1, 2]
    );
    assert_eq!(client.versions(&other).await.expect("versions"), vec![1]);

    let v1 = client.version(&subject, 1).await.expect("version 1");
    assert_eq!((v1.id, v1.schema.as_str()), (id1, V1));
    let latest = client.latest_version(&subject).await.expect("latest");
    assert_eq!((latest.version, latest.id), (2, id2));

    let schema = client.schema_by_id(id2).await.expect("schema by id");
    let expected_schema = apache_avro::Schema::parse_str(V2).expect("parses");
    assert_eq!(schema.canonical_form(), expected_schema.canonical_form());
}

#[tokio::test]
async fn incompatible_invalid_and_unknown_are_told_apart() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let subject = unique_name("things-test.Thing");
    client.register(&subject, V1).await.expect("register v1");

    // BACKWARD by default: a new field without a default is refused.
    let (status, body) = app
        .registry
        .post(
            &format!("/subjects/{subject}/versions"),
            &schema_body(BREAKING),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error_code"], 409, "{body}");
    let error = client
        .register(&subject, BREAKING)
        .await
        .expect_err("incompatible");
    assert!(
        matches!(&error, RegistryError::Incompatible { subject: s, message } if *s == subject && message.contains("incompatible")),
        "{error}"
    );
    let verdict = client
        .test_compatibility(&subject, BREAKING)
        .await
        .expect("compatibility check");
    assert!(verdict.is_err(), "the check agrees with the registration");

    // After the subject's level is set to NONE, the same schema is accepted.
    let (status, body) = app
        .registry
        .put(&format!("/config/{subject}"), r#"{"compatibility":"NONE"}"#)
        .await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"compatibility": "NONE"}))
    );
    let id = client
        .register(&subject, BREAKING)
        .await
        .expect("accepted under NONE");
    assert_eq!(client.version(&subject, 2).await.expect("version 2").id, id);

    let error = client
        .register(&subject, r#"{"type":"record","name":"NoFields"}"#)
        .await
        .expect_err("invalid");
    assert!(
        matches!(error, RegistryError::InvalidSchema { .. }),
        "{error}"
    );
    let (status, body) = app
        .registry
        .post(
            &format!("/subjects/{subject}/versions"),
            &schema_body("{not json"),
        )
        .await;
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (422, Some(u64::from(codes::INVALID_SCHEMA)))
    );
    let protobuf =
        serde_json::json!({"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF"}).to_string();
    let (status, body) = app
        .registry
        .post(&format!("/subjects/{subject}/versions"), &protobuf)
        .await;
    assert_eq!(body["error_code"], 42201, "{body}");
    assert_eq!(status, 422);
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("AVRO")),
        "{body}"
    );

    let error = client
        .versions("no-such-subject")
        .await
        .expect_err("unknown subject");
    assert!(matches!(error, RegistryError::NotFound { .. }), "{error}");
    let (status, body) = app.registry.get("/subjects/no-such-subject/versions").await;
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (404, Some(u64::from(codes::SUBJECT_NOT_FOUND)))
    );

    let error = client.schema_by_id(999_999).await.expect_err("unknown id");
    assert!(matches!(error, RegistryError::NotFound { .. }), "{error}");
    let (status, body) = app.registry.get("/schemas/ids/999999").await;
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (404, Some(u64::from(codes::SCHEMA_NOT_FOUND)))
    );

    let (status, body) = app
        .registry
        .get(&format!("/subjects/{subject}/versions/7"))
        .await;
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (404, Some(u64::from(codes::VERSION_NOT_FOUND)))
    );
    let (status, body) = app
        .registry
        .get(&format!("/subjects/{subject}/versions/zero"))
        .await;
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (422, Some(u64::from(codes::INVALID_VERSION)))
    );
}
