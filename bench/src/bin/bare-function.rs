//! The floor of a Rust Lambda function: `lambda_runtime` on a current-thread tokio runtime, an
//! event read (skimmed, not kept) and dropped, `null` answered. `runtime-api-bench` runs it beside
//! the kit's functions, so that what the kit adds to an invocation and to a cold start is the
//! difference.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::de::IgnoredAny;

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(lambda_runtime::run(service_fn(
        |_: LambdaEvent<IgnoredAny>| async { Ok::<(), Error>(()) },
    )))
}
