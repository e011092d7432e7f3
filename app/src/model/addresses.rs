//! Which address devices use for each kind of request, given the settings and the server's own
//! addresses (the rules of the cluster and enrollment addresses).

use super::types::{EST_PATH, NetworkSettings};
use serde::{Deserialize, Serialize};

/// The kinds of device traffic the address settings decide about.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum RequestKind {
    Os12Onboarding,
    Os12Communication,
    Os12AppDownload,
    Os11FileTransfer,
    Os11FirmwareDownload,
    Os11Communication,
    ServerToServer,
    CloudGatewayDevices,
}

impl RequestKind {
    pub const ALL: [RequestKind; 8] = [
        RequestKind::Os12Onboarding,
        RequestKind::Os12Communication,
        RequestKind::Os12AppDownload,
        RequestKind::Os11FileTransfer,
        RequestKind::Os11FirmwareDownload,
        RequestKind::Os11Communication,
        RequestKind::ServerToServer,
        RequestKind::CloudGatewayDevices,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RequestKind::Os12Onboarding => "OS 12 device onboarding (EST enrollment)",
            RequestKind::Os12Communication => "OS 12 device communication",
            RequestKind::Os12AppDownload => "OS 12 app download (server as update proxy)",
            RequestKind::Os11FileTransfer => "File transfer to OS 11 devices",
            RequestKind::Os11FirmwareDownload => "Firmware download by OS 11 devices",
            RequestKind::Os11Communication => "OS 11 device communication with the servers",
            RequestKind::ServerToServer => "Communication between servers",
            RequestKind::CloudGatewayDevices => "Devices connected through a cloud gateway",
        }
    }

    /// Whether an enabled cluster address applies to this kind of request.
    pub fn uses_cluster_address(self) -> bool {
        matches!(
            self,
            RequestKind::Os12Onboarding
                | RequestKind::Os12Communication
                | RequestKind::Os12AppDownload
                | RequestKind::Os11FileTransfer
        )
    }
}

/// Where an address came from, so the page can say why it is used.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AddressSource {
    EnrollmentAddress,
    ClusterAddress,
    ServerPublicAddress,
    ServerAddress,
    CloudGateway,
}

impl AddressSource {
    pub fn label(self) -> &'static str {
        match self {
            AddressSource::EnrollmentAddress => "enrollment address",
            AddressSource::ClusterAddress => "cluster address",
            AddressSource::ServerPublicAddress => "each server's public address",
            AddressSource::ServerAddress => "each server's own address",
            AddressSource::CloudGateway => "the gateway's address (not affected by these settings)",
        }
    }
}

/// The server's own device-facing address: a configured public address wins over the detected one.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OwnAddress {
    pub public_address: Option<String>,
    pub address: String,
    pub port: u16,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Endpoint {
    /// A URL, or a description where there is none to give.
    pub target: String,
    pub source: AddressSource,
}

/// `host:port`, with brackets around IPv6 addresses.
pub fn host_port(host: &str, port: u32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The EST base path below an enrollment path prefix. A prefix that already ends in the EST path
/// is used as it is (the reference's example gives the whole path).
pub fn est_path(prefix: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.ends_with(EST_PATH) {
        prefix.to_owned()
    } else {
        format!("{prefix}{EST_PATH}")
    }
}

pub fn device_endpoint(
    settings: &NetworkSettings,
    own: &OwnAddress,
    kind: RequestKind,
) -> Endpoint {
    let cluster = &settings.cluster_address;
    let enrollment = &settings.enrollment_address;
    let suffix = if kind == RequestKind::Os12Onboarding {
        EST_PATH
    } else {
        ""
    };
    if kind == RequestKind::CloudGatewayDevices {
        return Endpoint {
            target: "the cloud gateway's address".into(),
            source: AddressSource::CloudGateway,
        };
    }
    let not_set = |source| Endpoint {
        target: "not set yet: use Set Address".into(),
        source,
    };
    if kind == RequestKind::Os12Onboarding && enrollment.enabled {
        if enrollment.host.is_empty() {
            return not_set(AddressSource::EnrollmentAddress);
        }
        return Endpoint {
            target: format!(
                "https://{}{}",
                host_port(&enrollment.host, enrollment.port),
                est_path(&enrollment.path_prefix)
            ),
            source: AddressSource::EnrollmentAddress,
        };
    }
    if kind.uses_cluster_address() && cluster.enabled {
        if cluster.host.is_empty() {
            return not_set(AddressSource::ClusterAddress);
        }
        return Endpoint {
            target: format!("https://{}{suffix}", host_port(&cluster.host, cluster.port)),
            source: AddressSource::ClusterAddress,
        };
    }
    let (host, source) = match &own.public_address {
        Some(public) if !public.is_empty() => (public.as_str(), AddressSource::ServerPublicAddress),
        _ => (own.address.as_str(), AddressSource::ServerAddress),
    };
    Endpoint {
        target: format!("https://{}{suffix}", host_port(host, own.port.into())),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Installation;

    fn own(public: Option<&str>) -> OwnAddress {
        OwnAddress {
            public_address: public.map(str::to_owned),
            address: "10.0.0.5".into(),
            port: 8443,
        }
    }

    #[test]
    fn without_cluster_address_devices_use_the_server() {
        let s = NetworkSettings::defaults(Installation::Standalone);
        let e = device_endpoint(&s, &own(None), RequestKind::Os12Communication);
        assert_eq!(e.target, "https://10.0.0.5:8443");
        assert_eq!(e.source, AddressSource::ServerAddress);
        let e = device_endpoint(
            &s,
            &own(Some("ums.example.com")),
            RequestKind::Os12Onboarding,
        );
        assert_eq!(e.target, "https://ums.example.com:8443/.well-known/est");
        assert_eq!(e.source, AddressSource::ServerPublicAddress);
    }

    #[test]
    fn cluster_address_covers_only_its_kinds() {
        let mut s = NetworkSettings::defaults(Installation::Standalone);
        s.cluster_address.enabled = true;
        s.cluster_address.host = "lb.example.com".into();
        s.cluster_address.port = 443;
        for kind in RequestKind::ALL {
            let e = device_endpoint(&s, &own(None), kind);
            match kind {
                RequestKind::Os12Onboarding => {
                    assert_eq!(e.target, "https://lb.example.com:443/.well-known/est")
                }
                RequestKind::Os12Communication
                | RequestKind::Os12AppDownload
                | RequestKind::Os11FileTransfer => {
                    assert_eq!(e.source, AddressSource::ClusterAddress)
                }
                RequestKind::CloudGatewayDevices => {
                    assert_eq!(e.source, AddressSource::CloudGateway)
                }
                _ => assert_eq!(e.source, AddressSource::ServerAddress, "{kind:?}"),
            }
        }
    }

    #[test]
    fn enrollment_address_overrides_onboarding_only() {
        let mut s = NetworkSettings::defaults(Installation::Standalone);
        s.cluster_address.enabled = true;
        s.cluster_address.host = "lb.example.com".into();
        s.enrollment_address.enabled = true;
        s.enrollment_address.host = "2001:db8::7".into();
        s.enrollment_address.port = 9443;
        s.enrollment_address.path_prefix = "/device-connector/device/.well-known/est".into();
        let e = device_endpoint(&s, &own(None), RequestKind::Os12Onboarding);
        assert_eq!(
            e.target,
            "https://[2001:db8::7]:9443/device-connector/device/.well-known/est"
        );
        let e = device_endpoint(&s, &own(None), RequestKind::Os12Communication);
        assert_eq!(e.source, AddressSource::ClusterAddress);
        s.enrollment_address.path_prefix = "/enroll/".into();
        let e = device_endpoint(&s, &own(None), RequestKind::Os12Onboarding);
        assert_eq!(
            e.target,
            "https://[2001:db8::7]:9443/enroll/.well-known/est"
        );
        s.enrollment_address.host.clear();
        let e = device_endpoint(&s, &own(None), RequestKind::Os12Onboarding);
        assert!(e.target.contains("not set"));
        s.enrollment_address.host = "2001:db8::7".into();
        let e = device_endpoint(&s, &own(None), RequestKind::Os12Onboarding);
        assert_eq!(
            e.target,
            "https://[2001:db8::7]:9443/enroll/.well-known/est"
        );
    }
}
