//! The HTTP layer (actix-web): WebUI-compatible /sdapi/v1, the native job API, health, OpenAPI.

use actix_web::{App, HttpResponse, HttpServer, web};

use crate::config::ServerArgs;

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Build the routes (shared by the server and the tests).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health));
}

/// Run the server until it is stopped.
pub async fn serve(args: &ServerArgs) -> std::io::Result<()> {
    let addr = (args.bind_addr(), args.port);
    tracing::info!("listening on http://{}:{}", addr.0, addr.1);
    HttpServer::new(|| App::new().configure(configure))
        .bind(addr)?
        .run()
        .await
}
