//! HTTP tests of the users API over a real embedded store.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use tributary_service::{
    ServiceContext,
    testing::{TestStore, content_type, send},
};

use crate::password::tests::fast;
use crate::{
    AccountError, Accounts, AdminOutcome, JwtConfig, Passwords, Role, TokenIssuer, TokenValidator,
    api, views,
};

struct TestApp {
    _base: TestStore,
    ctx: ServiceContext,
    accounts: Accounts,
}

impl TestApp {
    async fn new() -> Self {
        let base = TestStore::open("users", &views::TABLES).await;
        let ctx = base.context.clone();
        let accounts = Accounts::new(
            ctx.clone(),
            Passwords::new(&fast()).expect("passwords"),
            TokenIssuer::new(&JwtConfig::default()).expect("issuer"),
        );
        TestApp {
            _base: base,
            ctx,
            accounts,
        }
    }

    fn router(&self) -> Router {
        api::router(self.accounts.clone())
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        body: Option<&str>,
    ) -> (StatusCode, Value, String) {
        let mut request = Request::builder().method(method).uri(uri);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
            .expect("request");
        let (status, headers, json) = send(self.router(), request).await;
        (
            status,
            json,
            content_type(&headers).unwrap_or_default().to_owned(),
        )
    }

    async fn register(
        &self,
        email: &str,
        password: &str,
        name: &str,
    ) -> (StatusCode, Value, String) {
        let body = json!({"email": email, "password": password, "name": name}).to_string();
        self.call("POST", "/users", Some(&body)).await
    }

    async fn login(&self, email: &str, password: &str) -> (StatusCode, Value, String) {
        let body = json!({"email": email, "password": password}).to_string();
        self.call("POST", "/sessions", Some(&body)).await
    }
}

#[tokio::test]
async fn registration_creates_the_account_and_emits_user_registered() {
    let app = TestApp::new().await;
    let (status, body, _) = app
        .register("Ada@Example.com", "correct horse", "Ada")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["email"], "Ada@Example.com");
    assert_eq!(body["name"], "Ada");
    assert_eq!(body["role"], "customer");
    assert!(body.get("password_hash").is_none());
    let id = body["id"].as_str().expect("id").to_owned();

    let pending = app.ctx.store().outbox_pending(10).await.expect("outbox");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].message.topic, "users");
    assert_eq!(pending[0].message.key, id);

    let (status, fetched, _) = app.call("GET", &format!("/users/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["id"], id.as_str());
    assert_eq!(fetched["email"], "Ada@Example.com");
}

#[tokio::test]
async fn duplicate_emails_conflict_regardless_of_case() {
    let app = TestApp::new().await;
    assert_eq!(
        app.register("ada@example.com", "correct horse", "Ada")
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, body, content_type) = app
        .register(" ADA@example.com", "another pass", "Eve")
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["errors"][0]["field"], "email");
    assert_eq!(
        app.ctx
            .store()
            .outbox_pending(10)
            .await
            .expect("outbox")
            .len(),
        1
    );
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_create_one_account() {
    let app = TestApp::new().await;
    let registrations = (0..4).map(|i| {
        let accounts = app.accounts.clone();
        async move {
            let registration = crate::domain::validate_registration(
                "race@example.com",
                "correct horse",
                &format!("Racer {i}"),
            )
            .expect("valid");
            accounts.register(registration).await
        }
    });
    let results = futures::future::join_all(registrations).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Err(AccountError::EmailTaken)))
        .count();
    assert_eq!((created, taken), (1, 3), "{results:?}");
    assert_eq!(
        app.ctx
            .store()
            .outbox_pending(10)
            .await
            .expect("outbox")
            .len(),
        1
    );
}

#[tokio::test]
async fn invalid_registrations_are_problems_naming_the_field() {
    let app = TestApp::new().await;
    for (email, password, name, field) in [
        ("nope", "correct horse", "Ada", "email"),
        ("ada@example.com", "short", "Ada", "password"),
        ("ada@example.com", "correct horse", "", "name"),
    ] {
        let (status, body, content_type) = app.register(email, password, name).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["errors"][0]["field"], field);
    }
    let (status, body, _) = app
        .call(
            "POST",
            "/users",
            Some(r#"{"email":"ada@example.com","name":"Ada"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "password");
    assert_eq!(
        app.call("POST", "/users", Some("{nope")).await.0,
        StatusCode::BAD_REQUEST
    );
    let request = Request::post("/users")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("hi"))
        .expect("request");
    let response = app.router().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        app.ctx
            .store()
            .outbox_pending(10)
            .await
            .expect("outbox")
            .is_empty()
    );
}

#[tokio::test]
async fn login_issues_a_token_and_refuses_bad_credentials_alike() {
    let app = TestApp::new().await;
    let (_, user, _) = app
        .register("ada@example.com", "correct horse", "Ada")
        .await;
    let (status, session, _) = app.login("ADA@example.com", "correct horse").await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(session["token_type"], "Bearer");
    assert!(
        session["expires_at"]
            .as_str()
            .expect("expires_at")
            .ends_with('Z')
    );
    let claims = TokenValidator::new(&JwtConfig::default())
        .expect("validator")
        .validate(session["token"].as_str().expect("token"))
        .expect("valid token");
    assert_eq!(claims.sub.to_string(), user["id"].as_str().expect("id"));
    assert_eq!(claims.role, Role::Customer);

    let (wrong_status, wrong, _) = app.login("ada@example.com", "wrong horse").await;
    let (unknown_status, unknown, _) = app.login("eve@example.com", "correct horse").await;
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong["detail"], unknown["detail"]);
}

#[tokio::test]
async fn unknown_users_are_not_found() {
    let app = TestApp::new().await;
    let (status, body, _) = app
        .call("GET", &format!("/users/{}", uuid::Uuid::new_v4()), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        app.call("GET", "/users/not-a-uuid", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_admin_account_is_ensured_idempotently() {
    let app = TestApp::new().await;
    let created = app
        .accounts
        .ensure_admin("root@example.com", "admin password")
        .await
        .expect("ensure");
    let AdminOutcome::Created(id) = created else {
        panic!("expected creation, got {created:?}");
    };
    assert_eq!(
        app.accounts
            .ensure_admin("root@example.com", "admin password")
            .await
            .expect("again"),
        AdminOutcome::Unchanged(id)
    );
    assert_eq!(
        app.accounts
            .ensure_admin("ROOT@example.com", "new admin password")
            .await
            .expect("reset"),
        AdminOutcome::PasswordReset(id)
    );
    // One account, one event.
    assert_eq!(
        app.ctx
            .store()
            .outbox_pending(10)
            .await
            .expect("outbox")
            .len(),
        1
    );
    let (status, session, _) = app.login("root@example.com", "new admin password").await;
    assert_eq!(status, StatusCode::CREATED);
    let claims = TokenValidator::new(&JwtConfig::default())
        .expect("validator")
        .validate(session["token"].as_str().expect("token"))
        .expect("valid");
    assert_eq!(claims.role, Role::Admin);
    assert_eq!(claims.sub, id);

    // Concurrent replicas starting at once agree on one account.
    let other = TestApp::new().await;
    let (a, b) = tokio::join!(
        other
            .accounts
            .ensure_admin("root@example.com", "admin password"),
        other
            .accounts
            .ensure_admin("root@example.com", "admin password"),
    );
    let ids: Vec<_> = [a.expect("a"), b.expect("b")]
        .into_iter()
        .map(|o| match o {
            AdminOutcome::Created(id)
            | AdminOutcome::Unchanged(id)
            | AdminOutcome::PasswordReset(id) => id,
        })
        .collect();
    assert_eq!(ids[0], ids[1]);
}

#[tokio::test]
async fn a_customer_holding_the_admin_email_is_not_promoted() {
    let app = TestApp::new().await;
    app.register("root@example.com", "customer pass", "Mallory")
        .await;
    let error = app
        .accounts
        .ensure_admin("root@example.com", "admin password")
        .await
        .expect_err("must refuse");
    assert!(matches!(error, AccountError::AdminEmailTaken(_)), "{error}");
}
