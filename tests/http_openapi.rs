//! The committed OpenAPI document (openapi/openapi.json) matches what the server generates.
//! Regenerate with `cargo run -- openapi > openapi/openapi.json` (or UPDATE_OPENAPI=1 cargo test
//! --test http_openapi).

#[macro_use]
mod common;

use actix_web::test::{self, TestRequest};

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");

#[test]
fn the_committed_spec_is_current() {
    let generated = sdgate::api::openapi_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(FILE, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(FILE).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(generated.lines().count()));
        panic!(
            "openapi/openapi.json is out of date (first difference at line {}); regenerate it with \
             `cargo run -- openapi > openapi/openapi.json` or `UPDATE_OPENAPI=1 cargo test --test http_openapi`",
            line + 1
        );
    }
}

#[test]
fn every_operation_is_described() {
    let spec: serde_json::Value = serde_json::from_str(&sdgate::api::openapi_json()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 38, "{}", paths.len());
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} has no tag"
            );
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has no responses"
            );
        }
    }
    assert!(spec["components"]["securitySchemes"]["basic"].is_object());
}

#[actix_web::test]
async fn the_server_serves_its_spec_and_docs() {
    let h = common::harness();
    let app = test::init_service(sdgate::api::build_app(h.state.clone())).await;
    let (status, served) = call_json!(&app, TestRequest::get().uri("/openapi.json"));
    assert_eq!(status, 200);
    let generated: serde_json::Value = serde_json::from_str(&sdgate::api::openapi_json()).unwrap();
    assert_eq!(served, generated);
    let res = test::call_service(&app, TestRequest::get().uri("/docs/").to_request()).await;
    assert_eq!(res.status(), 200);
    let html = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(html.contains("swagger"), "vendored Swagger UI");
}
