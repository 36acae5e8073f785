//! `example-server`: reads the configuration from the environment, builds the app and
//! serves it. Exit status 2 for a configuration error, 1 for any other failure to start.

use std::net::SocketAddr;
use std::process::ExitCode;

use example_server::{Config, Environment, KeyringOrigin, build};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("example-server: refusing to start: {error}");
            return ExitCode::from(2);
        }
    };
    let app = match build(&config).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("example-server: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match &app.keyring {
        KeyringOrigin::Created(path) => eprintln!(
            "\n\
             ************************************************************************\n\
             WARNING: no keyring was configured, so a NEW DEVELOPMENT KEYRING was\n\
             created at {}.\n\
             Every sealed credential and server key depends on it: lose it and they\n\
             are gone. Never use it in production: set PALISADE_ENV=production and\n\
             PALISADE_KEYRING or PALISADE_KEYRING_FILE there.\n\
             ************************************************************************\n",
            path.display()
        ),
        KeyringOrigin::File(path) if config.environment == Environment::Development => {
            eprintln!(
                "example-server: development mode, keyring {}",
                path.display()
            );
        }
        _ => {}
    }
    for line in &app.backends {
        eprintln!("example-server: {line}");
    }

    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("example-server: cannot listen on {}: {error}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => eprintln!("example-server: listening on http://{addr}"),
        Err(error) => eprintln!("example-server: listening ({error})"),
    }

    let router = app.router.clone();
    let checkpoints = tokio::spawn(async move {
        let mut timer = tokio::time::interval(example_server::CHECKPOINT_INTERVAL);
        loop {
            timer.tick().await;
            if let Err(error) = app.checkpoint_due().await {
                eprintln!("example-server: signing audit checkpoints failed: {error}");
            }
        }
    });
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    checkpoints.abort();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("example-server: server failed: {error}");
            ExitCode::FAILURE
        }
    }
}
