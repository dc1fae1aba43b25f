"""MQTT credentials and TLS against a real mosquitto: user/password from password_file and from
$CREDENTIALS_DIRECTORY (systemd LoadCredential=), mqtts:// with a CA and a client certificate, and the
failures (wrong password, unknown CA) that must leave the daemon running and say why. Certificates are
made by the openssl CLI in the test's tmp dir; everything stays on 127.0.0.1."""

import os
import subprocess

import pytest

import helpers

pytestmark = pytest.mark.usefixtures("cloudless_bin")

BASE = helpers.BASE_TOPIC
PASSWORD = "s3cret-Passw0rd"


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificate(directory, name, ca, common_name, san=None):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key",
            "-out", name + ".csr", "-subj", "/CN=" + common_name, cwd=directory)
    ext = directory / (name + ".ext")
    ext.write_text("subjectAltName=%s\n" % san if san else "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key", "-CAcreateserial",
            "-out", name + ".crt", "-days", "2", "-extfile", ext.name, cwd=directory)


def make_ca(directory, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            name + ".key", "-out", name + ".crt", "-days", "2", "-subj", "/CN=" + name, cwd=directory)


@pytest.fixture
def pki(tmp_path):
    directory = tmp_path / "pki"
    directory.mkdir()
    make_ca(directory, "ca")
    make_ca(directory, "other_ca")
    make_certificate(directory, "server", "ca", "127.0.0.1", san="IP:127.0.0.1")
    make_certificate(directory, "client", "ca", "cloudless")
    return directory


def start_broker(request, tmp_path, listener_options=(), **kw):
    # mosquitto started as root drops to user "mosquitto", who cannot read pytest's 0700 tmp dirs.
    options = list(listener_options) + (["user root"] if os.geteuid() == 0 else [])
    broker = helpers.Mosquitto(tmp_path / "broker", listener_options=options, **kw)
    request.addfinalizer(broker.stop)
    broker.start()
    return broker


def start_daemon(request, cloudless_bin, tmp_path, mqtt):
    d = helpers.Daemon(cloudless_bin, tmp_path / "daemon")
    mqtt = dict(mqtt)
    mqtt.setdefault("client_id", "cloudless_security_test")
    d.write_config({"mqtt": mqtt, "state_dir": str(d.state_dir), "log_level": "debug", "devices": {}})
    request.addfinalizer(d.stop)
    d.start(wait_online=False)
    return d


def password_broker(request, tmp_path):
    passwords = tmp_path / "mosquitto.passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "bridge", PASSWORD], check=True, timeout=30)
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), "observer", "watch"], check=True, timeout=30)
    return start_broker(request, tmp_path, anonymous=False, listener_options=["password_file %s" % passwords])


def wait_online(client, timeout=15):
    return client.wait_for(BASE + "/bridge/state", lambda m: m.text == "online", timeout=timeout)


def test_password_from_password_file(request, cloudless_bin, tmp_path):
    broker = password_broker(request, tmp_path)
    secret = tmp_path / "mqtt.password"
    secret.write_text(PASSWORD + "\n")
    d = start_daemon(request, cloudless_bin, tmp_path, {"server": broker.url, "user": "bridge",
                                                        "password_file": str(secret)})
    with helpers.MqttClient(broker.host, broker.port, username="observer", password="watch",
                            subscribe=(BASE + "/#",)) as observer:
        wait_online(observer)
    assert PASSWORD not in d.log_text()


def test_password_from_credentials_directory(request, cloudless_bin, tmp_path, monkeypatch):
    broker = password_broker(request, tmp_path)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mqtt_password").write_text(PASSWORD)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    d = start_daemon(request, cloudless_bin, tmp_path, {"server": broker.url, "user": "bridge"})
    with helpers.MqttClient(broker.host, broker.port, username="observer", password="watch",
                            subscribe=(BASE + "/#",)) as observer:
        wait_online(observer)
    assert PASSWORD not in d.log_text()


def test_wrong_password_keeps_retrying_and_says_why(request, cloudless_bin, tmp_path):
    broker = password_broker(request, tmp_path)
    secret = tmp_path / "mqtt.password"
    secret.write_text("not-the-password\n")
    d = start_daemon(request, cloudless_bin, tmp_path, {"server": broker.url, "user": "bridge",
                                                        "password_file": str(secret)})
    d.wait_for_log(r"mqtt.*(not authori[sz]ed|bad user name or password|refused)", timeout=15)
    assert d.running
    assert "not-the-password" not in d.log_text()


def test_tls_with_ca_and_client_certificate(request, cloudless_bin, tmp_path, pki):
    broker = start_broker(request, tmp_path, listener_options=[
        "cafile %s" % (pki / "ca.crt"), "certfile %s" % (pki / "server.crt"), "keyfile %s" % (pki / "server.key"),
        "require_certificate true"])
    start_daemon(request, cloudless_bin, tmp_path, {
        "server": "mqtts://127.0.0.1:%d" % broker.port, "ca_file": str(pki / "ca.crt"),
        "cert_file": str(pki / "client.crt"), "key_file": str(pki / "client.key")})
    tls = {"ca_certs": str(pki / "ca.crt"), "certfile": str(pki / "client.crt"), "keyfile": str(pki / "client.key")}
    with helpers.MqttClient(broker.host, broker.port, subscribe=(BASE + "/#",), tls=tls) as observer:
        wait_online(observer)


def test_tls_with_an_unknown_ca_does_not_connect(request, cloudless_bin, tmp_path, pki):
    broker = start_broker(request, tmp_path, listener_options=[
        "cafile %s" % (pki / "ca.crt"), "certfile %s" % (pki / "server.crt"), "keyfile %s" % (pki / "server.key")])
    d = start_daemon(request, cloudless_bin, tmp_path, {
        "server": "mqtts://127.0.0.1:%d" % broker.port, "ca_file": str(pki / "other_ca.crt")})
    d.wait_for_log(r"mqtt.*(fail|error|ssl|tls|certificate)", timeout=15)
    tls = {"ca_certs": str(pki / "ca.crt")}
    with helpers.MqttClient(broker.host, broker.port, subscribe=(BASE + "/#",), tls=tls) as observer:
        observer.assert_silent(BASE + "/bridge/state", 3, predicate=lambda m: m.text == "online")
    assert d.running
