//! `init_tracing` reading the environment, in a child process of this test
//! binary because it installs process-wide globals.

use std::{process::Stdio, time::Duration};

use crate::{
    collector::{Collector, by_name},
    random_name,
};

/// Turns `child_process_for_env_tests` into the child: the span name to
/// record.
const CHILD_SPAN: &str = "TRIBUTARY_OTLP_TEST_CHILD_SPAN";
/// What the child prints when `init_tracing` refuses the environment.
const INIT_ERROR: &str = "init-error: ";

/// Runs `child_process_for_env_tests` in a new process with no OTEL_*
/// variable but `vars`; returns its stdout.
async fn run_child(span: &str, vars: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().expect("test binary");
    let mut command = tokio::process::Command::new(exe);
    command
        .args([
            "--exact",
            "env::child_process_for_env_tests",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_SPAN, span)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.envs(vars.iter().copied());
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        command.spawn().expect("spawn").wait_with_output(),
    )
    .await
    .expect("child finished in time")
    .expect("child output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_tracing_exports_where_the_environment_says_under_otel_service_name() {
    let collector = Collector::start().await;
    let span = random_name("span");
    let service = random_name("checkout");
    let endpoint = collector.base_url().to_string();
    let stdout = run_child(
        &span,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_SERVICE_NAME", service.as_str()),
        ],
    )
    .await;
    assert!(!stdout.contains(INIT_ERROR), "{stdout}");

    let spans = collector.protobuf_spans_until(&span).await;
    let exported = by_name(&spans)[span.as_str()];
    assert_eq!(
        exported.service, service,
        "OTEL_SERVICE_NAME wins over the role"
    );
}

#[tokio::test]
async fn init_tracing_refuses_a_malformed_variable_by_name() {
    let stdout = run_child(
        &random_name("span"),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ],
    )
    .await;
    let line = stdout
        .lines()
        // libtest prints the test's name on the same line first.
        .find_map(|line| line.split_once(INIT_ERROR).map(|(_, error)| error))
        .unwrap_or_else(|| panic!("no init error in {stdout}"));
    assert!(line.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "{line}");
}

/// The child half of the two `init_tracing` tests above; does nothing
/// unless started by them.
#[test]
fn child_process_for_env_tests() {
    let Ok(span) = std::env::var(CHILD_SPAN) else {
        return;
    };
    match tributary_telemetry::init_tracing("otlp-test-role", false) {
        Ok(guard) => {
            tracing::info_span!("child", otel.name = span.as_str()).in_scope(|| {});
            drop(guard);
        }
        Err(error) => println!("{INIT_ERROR}{error}"),
    }
}
