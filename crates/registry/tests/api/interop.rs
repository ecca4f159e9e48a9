//! Interoperability with a Confluent client nobody here wrote:
//! `schema_registry_converter` encodes and decodes against our server, and
//! our own decoding path reads what it writes (and the other way round).

use std::time::Duration;

use apache_avro::from_value;
use schema_registry_converter::{
    async_impl::{
        avro::{AvroDecoder, AvroEncoder},
        schema_registry::SrSettings,
    },
    schema_registry_common::{SchemaType, SubjectNameStrategy, SuppliedSchema},
};
use tributary_contracts::{
    Envelope, Event, decode_body, encode_body,
    events::{OrderLine, OrderPlaced},
    frame, unframe,
};

use crate::helpers::TestApp;

fn order() -> OrderPlaced {
    let order_id = uuid::Uuid::new_v4();
    OrderPlaced {
        envelope: Envelope::originating("gateway", order_id.to_string(), 1_700_000_000_000),
        order_id,
        customer_id: uuid::Uuid::new_v4(),
        lines: vec![
            OrderLine {
                sku: "SKU-1".to_owned(),
                quantity: 2,
            },
            OrderLine {
                sku: "SKU-2".to_owned(),
                quantity: 1,
            },
        ],
        payment_token: "tok_visa".to_owned(),
        idempotency_key: Some("key-1".to_owned()),
    }
}

fn settings(app: &TestApp) -> SrSettings {
    SrSettings::new_builder(app.registry.base_url.clone())
        .no_proxy()
        .set_timeout(Duration::from_secs(10))
        .build()
        .expect("converter settings")
}

#[tokio::test]
async fn their_encoder_registers_and_our_path_decodes() {
    let app = TestApp::spawn().await;
    let encoder = AvroEncoder::new(settings(&app));
    let supplied = SuppliedSchema {
        name: Some(OrderPlaced::FULL_NAME.to_owned()),
        schema_type: SchemaType::Avro,
        schema: OrderPlaced::SCHEMA_JSON.to_owned(),
        references: vec![],
        properties: None,
        tags: None,
    };
    let strategy = SubjectNameStrategy::TopicRecordNameStrategyWithSchema(
        OrderPlaced::TOPIC.to_owned(),
        supplied,
    );
    let event = order();
    let bytes = encoder
        .encode_struct(&event, &strategy)
        .await
        .expect("their encoder registers and encodes");

    // Their registration is the one our client finds under our subject name.
    let subject = OrderPlaced::subject();
    assert_eq!(subject, "orders-tributary.orders.OrderPlaced");
    let registered = app
        .client()
        .lookup(&subject, OrderPlaced::SCHEMA_JSON)
        .await
        .expect("lookup")
        .expect("registered");
    let (id, body) = unframe(&bytes).expect("Confluent frame");
    assert_eq!(id, registered.id);
    assert_eq!(
        app.client()
            .register(&subject, OrderPlaced::SCHEMA_JSON)
            .await
            .expect("register"),
        id
    );

    let writer = app.client().schema_by_id(id).await.expect("writer schema");
    let decoded: OrderPlaced =
        decode_body(body, Some(&writer)).expect("our path decodes their bytes");
    assert_eq!(decoded, event);

    // Their encoder with the plain TopicRecordNameStrategy reads our latest version.
    let strategy = SubjectNameStrategy::TopicRecordNameStrategy(
        OrderPlaced::TOPIC.to_owned(),
        OrderPlaced::FULL_NAME.to_owned(),
    );
    let again = encoder
        .encode_struct(&event, &strategy)
        .await
        .expect("encode with the latest version");
    assert_eq!(again, bytes);
}

#[tokio::test]
async fn our_frames_decode_with_their_decoder() {
    let app = TestApp::spawn().await;
    let id = app
        .client()
        .register(&OrderPlaced::subject(), OrderPlaced::SCHEMA_JSON)
        .await
        .expect("register");
    let event = order();
    let framed = frame(id, &encode_body(&event).expect("encode"));

    let decoder = AvroDecoder::new(settings(&app));
    let decoded = decoder
        .decode(Some(&framed))
        .await
        .expect("their decoder reads our bytes");
    let name = decoded.name.expect("a record name");
    assert_eq!(name.fullname(None), OrderPlaced::FULL_NAME);
    let value: OrderPlaced = from_value(&decoded.value).expect("value maps onto the contract type");
    assert_eq!(value, event);
}
