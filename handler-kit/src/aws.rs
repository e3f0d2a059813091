//! The AWS SDK configuration the kit's AWS features load, and the sender too (feature `aws`):
//! one place that picks the HTTPS client and its cryptography.
//!
//! The AWS SDK's default HTTPS client is rustls on aws-lc-rs. Here it is rustls on `ring`
//! instead (`aws-smithy-http-client` with `rustls-ring`): the same TLS, certificate checks and
//! SigV4 signing, but a Lambda bootstrap about half the size (aws-lc alone is several MB) and no
//! C library of aws-lc to compile. Everything else is the SDK's default chain: region,
//! credentials, endpoint and retry settings from the environment and profile files.
//!
//! `ring` has no FIPS mode. A deployment that must use FIPS-validated cryptography turns on
//! `aws-lc-fips` (aws-lc's FIPS module: building it needs CMake and Go); `aws-lc` switches to
//! aws-lc-rs without FIPS (the SDK's own default). The choice applies to every AWS client built
//! from [`config_loader`] and to [`crypto_provider`].

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// [`aws_config::defaults`] with the latest behavior version and the HTTPS client of
/// [`https_client`]: what the kit's secret stores and idempotency store load from, and what
/// `soketi-lambda-sender` loads its Lambda and SQS clients from. Set a region, an endpoint or
/// credentials on it as on any loader.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let sdk = soketi_handler_kit::aws::config_loader()
///     .region(aws_config::Region::new("eu-west-1"))
///     .load()
///     .await;
/// assert!(sdk.http_client().is_some());
/// # });
/// ```
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client())
}

/// The AWS SDK's HTTPS client (hyper, rustls, the system's root certificates) on the
/// cryptography this build chose: `ring`, or aws-lc with the `aws-lc` / `aws-lc-fips` features.
/// Connections are pooled per client; build it once and share it.
///
/// ```
/// let client = soketi_handler_kit::aws::https_client();
/// # drop(client);
/// ```
pub fn https_client() -> SharedHttpClient {
    Builder::new()
        .tls_provider(tls::Provider::Rustls(tls_choice().0))
        .build_https()
}

/// The rustls cryptography provider of this build (the one [`https_client`] uses), for other
/// rustls clients of the same program: the sender's HTTP webhooks use it.
///
/// ```
/// let provider = soketi_handler_kit::aws::crypto_provider();
/// assert!(!provider.cipher_suites.is_empty());
/// ```
pub fn crypto_provider() -> rustls::crypto::CryptoProvider {
    tls_choice().1()
}

/// The client's crypto mode and the provider of the same library.
type TlsChoice = (CryptoMode, fn() -> rustls::crypto::CryptoProvider);

#[cfg(feature = "aws-lc-fips")]
fn tls_choice() -> TlsChoice {
    (CryptoMode::AwsLcFips, rustls::crypto::default_fips_provider)
}

#[cfg(all(feature = "aws-lc", not(feature = "aws-lc-fips")))]
fn tls_choice() -> TlsChoice {
    (
        CryptoMode::AwsLc,
        rustls::crypto::aws_lc_rs::default_provider,
    )
}

#[cfg(not(any(feature = "aws-lc", feature = "aws-lc-fips")))]
fn tls_choice() -> TlsChoice {
    (CryptoMode::Ring, rustls::crypto::ring::default_provider)
}
