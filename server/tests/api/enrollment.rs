//! Enrollment keys: made by an administrator (the secret shown once, stored only hashed), spent
//! one use at a time, refused with the reason once expired, used up or revoked.

use super::*;

const KEYS: &str = "/api/v1/enrollment/keys";

async fn new_key(router: &Router, body: Value) -> Reply {
    call(
        router,
        Method::POST,
        KEYS,
        &[("content-type", "application/json")],
        Some(&body.to_string()),
    )
    .await
}

/// A first enrollment with the key, as an EST client's would go: spent, or why not.
async fn spend(est: &server::est::Est, id: &str, secret: &str) -> Result<(), server::est::Refusal> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "key-test");
    let csr = params.serialize_request(&key).unwrap();
    let body = super::tools::b64(csr.der());
    match est.simple_enroll(id, secret, body.as_bytes(), None).await {
        Ok(_) => Ok(()),
        Err(server::est::EnrollError::Key(refusal)) => Err(refusal),
        Err(e) => panic!("not the key's refusal: {e}"),
    }
}

async fn enrollment_keys(db: Db) {
    let env = Env::new(db).await;
    let pharos = env.start().await;
    let router = &pharos.router;
    let made = new_key(
        router,
        json!({"uses": 2, "expires_in_minutes": 60, "note": "batch 7"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 43, "256 random bits: {secret}");

    let list = get(router, KEYS).await;
    assert!(
        !list.text.contains(&secret),
        "the secret is shown once only"
    );
    assert_eq!(list.body["keys"][0]["state"], "active");
    assert_eq!(list.body["keys"][0]["uses_left"], 2);
    assert_eq!(list.body["keys"][0]["note"], "batch 7");
    assert_eq!(list.body["keys"][0]["created_by"], "admin");

    use server::est::Refusal;
    let est = &pharos.est;
    assert_eq!(spend(est, &id, "wrong").await, Err(Refusal::Unknown));
    assert_eq!(spend(est, "ek-nope", &secret).await, Err(Refusal::Unknown));
    assert_eq!(spend(est, &id, &secret).await, Ok(()));
    assert_eq!(spend(est, &id, &secret).await, Ok(()));
    assert_eq!(spend(est, &id, &secret).await, Err(Refusal::UsedUp));
    assert_eq!(get(router, KEYS).await.body["keys"][0]["state"], "used_up");

    // uses spent at the same moment never exceed the key's
    let made = new_key(router, json!({"uses": 3, "expires_in_minutes": 60})).await;
    let (id, secret) = (
        made.body["id"].as_str().unwrap().to_owned(),
        made.body["secret"].as_str().unwrap().to_owned(),
    );
    let tries = (0..10).map(|_| spend(est, &id, &secret));
    let spent = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .filter(Result::is_ok)
        .count();
    assert_eq!(spent, 3);

    // expired, then revoked
    let made = new_key(router, json!({"uses": 5, "expires_in_minutes": 1})).await;
    let (id, secret) = (
        made.body["id"].as_str().unwrap().to_owned(),
        made.body["secret"].as_str().unwrap().to_owned(),
    );
    sql(
        &env,
        &format!("UPDATE enrollment_keys SET expires_at = 1000 WHERE id = '{id}'"),
    )
    .await;
    assert!(matches!(
        spend(est, &id, &secret).await,
        Err(Refusal::Expired(_))
    ));
    let made = new_key(router, json!({"uses": 5, "expires_in_minutes": 60})).await;
    let (id, secret) = (
        made.body["id"].as_str().unwrap().to_owned(),
        made.body["secret"].as_str().unwrap().to_owned(),
    );
    let revoked = call(router, Method::DELETE, &format!("{KEYS}/{id}"), &[], None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(spend(est, &id, &secret).await, Err(Refusal::Revoked));
    let unknown = call(
        router,
        Method::DELETE,
        &format!("{KEYS}/ek-nope"),
        &[],
        None,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // bad input: a clear message, nothing made
    let before = get(router, KEYS).await.body;
    for (body, field) in [
        (json!({"uses": 0, "expires_in_minutes": 60}), "uses"),
        (
            json!({"uses": 1, "expires_in_minutes": 0}),
            "expires_in_minutes",
        ),
        (
            json!({"uses": 1, "expires_in_minutes": 60 * 24 * 31}),
            "expires_in_minutes",
        ),
        (
            json!({"uses": 1, "expires_in_minutes": 60, "note": "x".repeat(201)}),
            "note",
        ),
    ] {
        let refused = new_key(router, body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text
        );
        assert_eq!(refused.error_fields(), [field]);
    }
    assert_eq!(get(router, KEYS).await.body, before);
    let audit = get(router, "/api/v1/audit?area=certificates").await;
    assert!(
        audit.text.contains("create enrollment key"),
        "{}",
        audit.text
    );
    assert!(
        audit.text.contains("revoke enrollment key"),
        "{}",
        audit.text
    );
}

on_both_databases!(enrollment_keys);
