//! `cairn-m365` speaks Microsoft 365 for Cairn, and knows nothing of backups.
//!
//! - [`Region`]: Microsoft's clouds and their hosts; [`Network`]: how to reach them
//!   (production, or the simulator by overriding name resolution and trust only).
//! - [`Authenticator`]: Entra ID sign-in (password grant, certificate assertion, client
//!   secret) with a token cache; [`AppCertificate`]: the backup application's certificate.
//! - [`GraphClient`]: Microsoft Graph v1.0; [`ExchangeClient`]: the Exchange Online admin
//!   API (RBAC for Applications); [`MailClient`]: mailboxes as a backup reads them, under
//!   a [`Throttle`] that keeps Exchange's per-mailbox limits.
//! - [`Error`]: typed Entra, Graph and Exchange errors, temporary or permanent.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cairn_m365::Error> {
//! use std::sync::Arc;
//! use cairn_m365::{Authenticator, Credential, GraphClient, Network, Region};
//! let http = Network::from_env()?.http_client()?;
//! let credential = Credential::Password {
//!     username: "admin@contoso.onmicrosoft.com".into(),
//!     password: String::from("…").into(),
//! };
//! let auth = Arc::new(Authenticator::new(http, Region::Worldwide, "contoso.onmicrosoft.com", credential));
//! let org = GraphClient::new(auth).organization().await?;
//! println!("{}", org.id);
//! # Ok(()) }
//! ```

pub mod cert;
pub mod error;
pub mod exchange;
pub mod graph;
mod http;
pub mod mail;
pub mod network;
pub mod region;
pub mod throttle;
pub mod token;

pub use cert::{AppCertificate, CertificateError};
pub use error::{EntraError, Error, Result, Service, ServiceError, SignInFailure};
pub use exchange::ExchangeClient;
pub use graph::GraphClient;
pub use mail::MailClient;
pub use network::{Network, NetworkError};
pub use region::Region;
pub use throttle::{Throttle, ThrottleConfig};
pub use token::{AccessToken, Authenticator, Credential, Resource, TokenClaims};
