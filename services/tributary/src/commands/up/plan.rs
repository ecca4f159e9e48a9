//! Which processes `up` starts, on which ports, with which settings.
//!
//! Every process gets its settings as `TRIBUTARY__…` environment variables
//! layered over the user's configuration file, so a child reads exactly what
//! the supervisor decided and nothing needs to be written to disk.

use std::{
    collections::BTreeMap, ffi::OsString, net::SocketAddr, path::Path, str::FromStr, time::Duration,
};

use crate::{
    commands::run::Service,
    config::{ENV_PREFIX, UpConfig},
    supervisor::ChildSpec,
};

/// `--replicas orders=3`: how many instances of one service to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replicas {
    pub service: Service,
    pub count: u16,
}

impl FromStr for Replicas {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, count) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not SERVICE=COUNT, e.g. orders=3"))?;
        let service = Service::BUSINESS
            .into_iter()
            .find(|svc| svc.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Service::BUSINESS.iter().map(|s| s.name()).collect();
                format!(
                    "unknown service `{name}`; expected one of {}",
                    names.join(", ")
                )
            })?;
        let count: u16 = count
            .parse()
            .map_err(|_| format!("`{count}` is not a replica count"))?;
        if !(1..=16).contains(&count) {
            return Err(format!(
                "replica count for {name} must be 1 to 16, got {count}"
            ));
        }
        Ok(Replicas { service, count })
    }
}

/// One process of a business service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub service: Service,
    /// 1-based replica number.
    pub replica: u16,
    pub addr: SocketAddr,
}

impl Instance {
    /// Name in logs and the process list, e.g. `orders-2`.
    pub fn name(&self) -> String {
        format!("{}-{}", self.service.name(), self.replica)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Every business-service process in start order, then the bridge when
/// `with_bridge` (on the port after the last business service).
pub fn instances(config: &UpConfig, replicas: &[Replicas], with_bridge: bool) -> Vec<Instance> {
    let counts: BTreeMap<&str, u16> = replicas
        .iter()
        .map(|r| (r.service.name(), r.count))
        .collect();
    let ip = config.broker_listen.ip();
    let mut out = Vec::new();
    let mut next_base = config.first_service_port;
    for service in Service::BUSINESS {
        let base = if service == Service::Gateway {
            config.gateway_port
        } else {
            let base = next_base;
            next_base += 1;
            base
        };
        let count = counts.get(service.name()).copied().unwrap_or(1);
        for replica in 1..=count {
            let port = base + 100 * (replica - 1);
            out.push(Instance {
                service,
                replica,
                addr: SocketAddr::new(ip, port),
            });
        }
    }
    if with_bridge {
        out.push(Instance {
            service: Service::Bridge,
            replica: 1,
            addr: SocketAddr::new(ip, next_base),
        });
    }
    out
}

/// The shared settings every service process gets.
pub struct Shared<'a> {
    pub exe: &'a Path,
    pub config_file: Option<&'a Path>,
    pub bootstrap: &'a str,
    pub registry_url: &'a str,
    pub data_dir: &'a Path,
    pub logs: &'a Path,
    /// How long a consumer-group member waits before it is restarted: the
    /// consumers' session timeout plus a margin (see
    /// [`ChildSpec::min_restart_delay`]).
    pub consumer_restart_delay: Duration,
}

/// The child process for one instance.
pub fn child_spec(instance: &Instance, all: &[Instance], shared: &Shared<'_>) -> ChildSpec {
    let mut env = vec![
        var("SERVICE__HTTP_LISTEN", instance.addr.to_string()),
        var(
            "SERVICE__BUS__BOOTSTRAP_SERVERS",
            shared.bootstrap.to_owned(),
        ),
        var("SERVICE__BUS__REGISTRY_URL", shared.registry_url.to_owned()),
        var(
            "SERVICE__VIEWS__DATA_DIR",
            shared.data_dir.display().to_string(),
        ),
    ];
    match instance.service {
        Service::Notifications => {
            let path = shared
                .data_dir
                .join("notifications")
                .join("delivered.jsonl");
            env.push(var("NOTIFICATIONS__CHANNEL__KIND", "log".to_owned()));
            env.push(var(
                "NOTIFICATIONS__CHANNEL__PATH",
                path.display().to_string(),
            ));
        }
        Service::Gateway => {
            for (key, service) in [
                ("USERS", Service::Users),
                ("ORDERS", Service::Orders),
                ("INVENTORY", Service::Inventory),
                ("ANALYTICS", Service::Analytics),
            ] {
                env.push(var(
                    &format!("GATEWAY__UPSTREAMS__{key}"),
                    url_list(all, service),
                ));
            }
        }
        _ => {}
    }
    let mut args: Vec<OsString> = vec!["run".into(), instance.service.name().into()];
    if let Some(file) = shared.config_file {
        args.push("--config".into());
        args.push(file.as_os_str().to_owned());
    }
    ChildSpec {
        name: instance.name(),
        program: shared.exe.to_path_buf(),
        args,
        env,
        log_file: shared.logs.join(format!("{}.log", instance.name())),
        // The gateway only serves HTTP; every other service is a member of
        // a consumer group.
        min_restart_delay: if instance.service == Service::Gateway {
            Duration::ZERO
        } else {
            shared.consumer_restart_delay
        },
    }
}

/// The registry's child process.
pub fn registry_spec(shared: &Shared<'_>, listen: SocketAddr) -> ChildSpec {
    let mut args: Vec<OsString> = vec!["run".into(), "registry".into()];
    if let Some(file) = shared.config_file {
        args.push("--config".into());
        args.push(file.as_os_str().to_owned());
    }
    ChildSpec {
        name: "registry".to_owned(),
        program: shared.exe.to_path_buf(),
        args,
        env: vec![
            var("REGISTRY__BOOTSTRAP_SERVERS", shared.bootstrap.to_owned()),
            var("REGISTRY__LISTEN", listen.to_string()),
        ],
        log_file: shared.logs.join("registry.log"),
        // The registry reads its topic without a consumer group.
        min_restart_delay: Duration::ZERO,
    }
}

fn var(key: &str, value: String) -> (String, String) {
    (format!("{ENV_PREFIX}{key}"), value)
}

/// A TOML-style array of the instances' URLs, as figment parses it from
/// an environment variable.
fn url_list(all: &[Instance], service: Service) -> String {
    let urls: Vec<String> = all
        .iter()
        .filter(|i| i.service == service)
        .map(|i| format!("\"{}\"", i.url()))
        .collect();
    format!("[{}]", urls.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_parse_and_reject_bad_input() {
        let r: Replicas = "orders=3".parse().expect("valid");
        assert_eq!((r.service, r.count), (Service::Orders, 3));
        assert!(
            "orders"
                .parse::<Replicas>()
                .expect_err("invalid")
                .contains("SERVICE=COUNT")
        );
        assert!(
            "oders=2"
                .parse::<Replicas>()
                .expect_err("invalid")
                .contains("unknown service")
        );
        assert!(
            "orders=0"
                .parse::<Replicas>()
                .expect_err("invalid")
                .contains("1 to 16")
        );
        assert!("registry=2".parse::<Replicas>().is_err());
    }

    #[test]
    fn ports_are_distinct_and_replicas_follow_their_service() {
        let config = UpConfig::default();
        let plan = instances(
            &config,
            &[Replicas {
                service: Service::Orders,
                count: 3,
            }],
            false,
        );
        assert_eq!(plan.len(), 9);
        let mut ports: Vec<u16> = plan.iter().map(|i| i.addr.port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 9, "{plan:?}");
        let orders: Vec<u16> = plan
            .iter()
            .filter(|i| i.service == Service::Orders)
            .map(|i| i.addr.port())
            .collect();
        assert_eq!(orders, [8094, 8194, 8294]);
        assert_eq!(plan.last().map(|i| i.addr.port()), Some(8080));
    }

    #[test]
    fn the_bridge_follows_the_business_services() {
        let config = UpConfig::default();
        let plan = instances(&config, &[], true);
        let bridge = plan.last().expect("an instance");
        assert_eq!(bridge.service, Service::Bridge);
        assert_eq!(bridge.name(), "bridge-1");
        assert_eq!(bridge.addr.port(), 8097);
        assert_eq!(instances(&config, &[], false).len(), plan.len() - 1);
    }

    #[test]
    fn the_gateway_learns_every_upstream_instance() {
        let config = UpConfig::default();
        let plan = instances(
            &config,
            &[Replicas {
                service: Service::Orders,
                count: 2,
            }],
            false,
        );
        assert_eq!(
            url_list(&plan, Service::Orders),
            r#"["http://127.0.0.1:8094", "http://127.0.0.1:8194"]"#
        );
    }
}
