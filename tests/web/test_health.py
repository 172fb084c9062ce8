from app.jobs.worker import make_worker


def test_health_reports_a_missing_worker_with_503(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["database"]["ok"] and response.json["redis"]["ok"]
    assert response.json["worker"] == {"ok": False, "count": 0, "last_heartbeat": None}


def test_health_is_ok_with_a_live_worker(app, client):
    worker = make_worker(app)
    worker.register_birth()
    worker.heartbeat()
    try:
        response = client.get("/healthz")
        assert response.status_code == 200 and response.json["ok"]
        assert response.json["worker"]["count"] == 1 and response.json["worker"]["last_heartbeat"]
    finally:
        worker.register_death()
