//! Issue 3 item 7: killing a service process with SIGKILL mid-run delays
//! sagas but loses none. The supervisor restarts it (a new pid in its pid
//! file); afterwards every order is terminal, nobody is charged twice and no
//! reservation leaks.

use std::time::Duration;

use tributary::load::{self, Observer};

use crate::platform::{Platform, Start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_services_mid_run_delays_but_never_loses_a_saga() {
    let platform = Platform::start(Start::default()).await;
    let (observer, mut progress) = Observer::new();
    let options = load::LoadOptions {
        observer: Some(observer),
        ..platform.load_options(300, 50.0)
    };
    let run = tokio::spawn(load::run(options));

    // One kill per quarter of the run, each while sagas are in flight:
    // payments (authorizations), orders (decisions, timeouts) and last the
    // inventory (reservations; the gateway checks SKUs with it, so orders
    // placed while it is down are refused with 503, which is not a loss).
    let mut killed = Vec::new();
    for (child, service, after) in [
        ("payments-1", "payments", 75),
        ("orders-1", "orders", 150),
        ("inventory-1", "inventory", 225),
    ] {
        tokio::time::timeout(
            Duration::from_secs(120),
            progress.wait_for(|stats| stats.sent >= after),
        )
        .await
        .unwrap_or_else(|_| panic!("the run never sent {after} orders"))
        .expect("the run is alive");
        let pid = platform.kill(child);
        eprintln!("killed {child} (pid {pid}) after {after} orders");
        killed.push((child, service, pid));
    }
    for (child, service, pid) in killed {
        platform
            .wait_restarted(child, pid, &platform.service_url(service, 1))
            .await;
    }

    let report = run.await.expect("the run task").expect("the run starts");
    let text = report.render();
    eprintln!("{text}");
    assert!(report.invariants_hold(), "invariants violated:\n{text}");
    assert_eq!(report.outcomes.pending, 0, "{text}");
    assert!(
        report.send.accepted >= 200,
        "orders before the inventory kill must be accepted:\n{text}"
    );
    assert!(
        report
            .send
            .refused
            .keys()
            .all(|status| [502, 503].contains(status)),
        "only an unavailable upstream may refuse orders:\n{text}"
    );
    assert_eq!(report.send.no_answer, 0, "{text}");
}
