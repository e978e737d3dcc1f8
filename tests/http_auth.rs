//! --api-auth covers every route: a walker sends every documented path with every method (plus the
//! docs, openapi.json and unknown paths) without credentials and expects 401 each time.

#[macro_use]
mod common;

use actix_web::http::Method;
use actix_web::test::{self, TestRequest};
use common::*;
use sdgate::api::{ApiSettings, build_app};

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"];

fn auth_settings(public_probes: bool) -> ApiSettings {
    ApiSettings {
        auth: Some("alice:wonderland,bob:b:u:i:l:d".parse().unwrap()),
        public_probes,
        ..ApiSettings::default()
    }
}

/// Every documented route, with its parameters filled, and the undocumented ones.
fn all_paths() -> Vec<(String, Vec<String>)> {
    let spec = sdgate::api::openapi();
    let id = uuid::Uuid::new_v4().to_string();
    let mut out: Vec<(String, Vec<String>)> = spec
        .paths
        .paths
        .iter()
        .map(|(path, item)| {
            let concrete = path.replace("{id}", &id).replace("{file}", "0.png");
            let mut methods = vec![];
            for (m, op) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
                ("HEAD", &item.head),
                ("OPTIONS", &item.options),
            ] {
                if op.is_some() {
                    methods.push(m.to_string());
                }
            }
            (concrete, methods)
        })
        .collect();
    for extra in [
        "/docs",
        "/docs/",
        "/docs/index.html",
        "/docs/swagger-initializer.js",
        "/openapi.json",
        "/nope",
        "/sdapi/v1/nope",
        "/v1",
    ] {
        out.push((extra.to_string(), vec!["GET".into()]));
    }
    out
}

#[actix_web::test]
async fn every_route_and_method_needs_credentials() {
    let h = harness_with(auth_settings(false), FakeConfig::default());
    let app = test::init_service(build_app(h.state.clone())).await;
    let paths = all_paths();
    assert!(paths.len() > 40, "the walker sees the routes: {}", paths.len());
    let mut checked = 0;
    for (path, _) in &paths {
        for m in METHODS {
            for header in [
                None,
                Some(basic("alice:wrong")),
                Some(basic("mallory:wonderland")),
                Some("Bearer x".to_string()),
            ] {
                let mut req = TestRequest::default()
                    .method(Method::from_bytes(m.as_bytes()).unwrap())
                    .uri(path);
                if let Some(hv) = &header {
                    req = req.insert_header(("authorization", hv.as_str()));
                }
                let res = test::call_service(&app, req.to_request()).await;
                assert_eq!(res.status(), 401, "{m} {path} with {header:?}");
                assert_eq!(res.headers().get("www-authenticate").unwrap(), "Basic realm=\"sdgate\"");
                assert!(res.headers().get("x-process-time").is_some());
                if *m != "HEAD" {
                    let body: serde_json::Value = test::read_body_json(res).await;
                    assert_eq!(body["type"], "unauthorized");
                }
                checked += 1;
            }
        }
    }
    assert!(h.backend.accepted().is_empty(), "no job got through");
    eprintln!("{checked} unauthenticated requests refused");
}

#[actix_web::test]
async fn valid_credentials_reach_every_documented_route() {
    let h = harness_with(auth_settings(false), FakeConfig::default());
    let app = test::init_service(build_app(h.state.clone())).await;
    for (path, methods) in all_paths() {
        for m in methods {
            for user in ["alice:wonderland", "bob:b:u:i:l:d"] {
                let mut req = TestRequest::default()
                    .method(Method::from_bytes(m.as_bytes()).unwrap())
                    .uri(&path)
                    .insert_header(("authorization", basic(user)));
                if m == "POST" {
                    req = req.set_json(serde_json::json!({"steps": 1, "width": 64, "height": 64, "type": "txt2img"}));
                }
                let res = test::call_service(&app, req.to_request()).await;
                assert_ne!(res.status(), 401, "{m} {path} as {user}");
            }
        }
    }
}

#[actix_web::test]
async fn probes_can_be_left_open() {
    let h = harness_with(auth_settings(true), FakeConfig::default());
    let app = test::init_service(build_app(h.state.clone())).await;
    for p in ["/health", "/ready"] {
        let (status, _) = call_json!(&app, TestRequest::get().uri(p));
        assert_eq!(status, 200, "{p}");
    }
    for p in ["/metrics", "/sdapi/v1/options", "/openapi.json", "/"] {
        let (status, _) = call_json!(&app, TestRequest::get().uri(p));
        assert_eq!(status, 401, "{p}");
    }
    // Without the flag the probes need credentials too.
    let h = harness_with(auth_settings(false), FakeConfig::default());
    let app = test::init_service(build_app(h.state.clone())).await;
    let (status, _) = call_json!(&app, TestRequest::get().uri("/health"));
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn cors_preflight_answers_before_auth_for_allowed_origins() {
    let settings = ApiSettings {
        cors_allow_origins: vec!["https://app.example".into()],
        ..auth_settings(false)
    };
    let h = harness_with(settings, FakeConfig::default());
    let app = test::init_service(build_app(h.state.clone())).await;
    let res = test::call_service(
        &app,
        TestRequest::default()
            .method(Method::OPTIONS)
            .uri("/sdapi/v1/txt2img")
            .insert_header(("origin", "https://app.example"))
            .insert_header(("access-control-request-method", "POST"))
            .insert_header(("access-control-request-headers", "authorization, content-type"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example"
    );
    assert_eq!(
        res.headers().get("access-control-allow-headers").unwrap(),
        "authorization, content-type"
    );
    // Another origin gets no CORS headers, and still needs credentials.
    let res = test::call_service(
        &app,
        TestRequest::get()
            .uri("/sdapi/v1/options")
            .insert_header(("origin", "https://evil.example"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    // The allowed origin with credentials.
    let res = test::call_service(
        &app,
        TestRequest::get()
            .uri("/sdapi/v1/options")
            .insert_header(("origin", "https://app.example"))
            .insert_header(("authorization", basic("alice:wonderland")))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example"
    );
}

#[actix_web::test]
async fn cors_is_off_by_default() {
    let h = harness_with(ApiSettings::default(), FakeConfig::default());
    let app = test::init_service(build_app(h.state.clone())).await;
    for origin in ["https://app.example", "null", "http://127.0.0.1:7860"] {
        let res = test::call_service(
            &app,
            TestRequest::default()
                .method(Method::OPTIONS)
                .uri("/sdapi/v1/txt2img")
                .insert_header(("origin", origin))
                .insert_header(("access-control-request-method", "POST"))
                .to_request(),
        )
        .await;
        assert!(res.headers().get("access-control-allow-origin").is_none(), "{origin}");
        let res = test::call_service(
            &app,
            TestRequest::get()
                .uri("/sdapi/v1/options")
                .insert_header(("origin", origin))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("access-control-allow-origin").is_none(), "{origin}");
        assert!(
            res.headers().get("access-control-allow-credentials").is_none(),
            "{origin}"
        );
    }
}
