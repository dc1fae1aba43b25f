"""pytest fixtures for cloudless' integration tests (see helpers.py for the classes).

Fixtures (all function-scoped unless noted; every process they start is stopped at teardown):
  cloudless_bin            (session) Path of $CLOUDLESS_BIN or build/daemon/cloudless; SKIPS the
                           test with the reason when it is missing (never a silent pass).
  mosquitto                helpers.Mosquitto running on 127.0.0.1:<free port>; .kill(), .start(),
                           .restart() keep the port.
  mqtt_client              helpers.MqttClient connected to `mosquitto`, subscribed to "#".
  mqtt_client_factory      make(subscribe=("#",), client_id=None) -> another MqttClient (e.g. after
                           a broker restart).
  simulator                start(plugs, extra_args=()) -> helpers.Simulator (started and ready);
                           `plugs` are helpers.make_plug(...) dicts.
  daemon                   start(devices, start=True, wait_online=True, **config) -> helpers.Daemon
                           configured for `mosquitto` with state_dir under tmp_path. Needs
                           cloudless_bin (so it skips when the binary is missing).
On a failing test, the logs of cloudless, the simulator and mosquitto are attached to the report.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402


def _attach_log(request, name, getter):
    logs = getattr(request.node, "_cloudless_logs", None)
    if logs is None:
        logs = []
        request.node._cloudless_logs = logs
    logs.append((name, getter))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        for name, getter in getattr(item, "_cloudless_logs", []):
            try:
                text = getter()
            except Exception as exc:  # a log must never hide the real failure
                text = "(could not read: %r)" % (exc,)
            rep.sections.append(("%s log" % name, text or "(empty)"))


@pytest.fixture(scope="session")
def cloudless_bin():
    problem = helpers.cloudless_bin_problem()
    if problem:
        pytest.skip(problem)
    return helpers.cloudless_bin_path()


@pytest.fixture
def mosquitto(request, tmp_path):
    broker = helpers.Mosquitto(tmp_path / "mosquitto")
    request.addfinalizer(broker.stop)
    broker.start()
    _attach_log(request, "mosquitto", broker.log_text)
    return broker


@pytest.fixture
def mqtt_client_factory(request, mosquitto):
    clients = []

    def make(subscribe=("#",), client_id=None):
        client = helpers.MqttClient(mosquitto.host, mosquitto.port, client_id=client_id, subscribe=subscribe)
        clients.append(client)
        return client

    def close_all():
        for c in clients:
            c.disconnect()

    request.addfinalizer(close_all)
    return make


@pytest.fixture
def mqtt_client(mqtt_client_factory):
    return mqtt_client_factory()


@pytest.fixture
def simulator(request, tmp_path):
    sims = []

    def start(plugs, extra_args=()):
        sim = helpers.Simulator(plugs, tmp_path / ("sim%d" % len(sims)), extra_args=extra_args)
        sims.append(sim)
        _attach_log(request, "simulator %d" % len(sims), sim.log_text)
        sim.start()
        return sim

    def stop_all():
        for sim in sims:
            sim.stop()

    request.addfinalizer(stop_all)
    return start


@pytest.fixture
def daemon(request, tmp_path, cloudless_bin, mosquitto):
    daemons = []

    def start(devices, start=True, wait_online=True, **config):
        d = helpers.Daemon(cloudless_bin, tmp_path / ("cloudless%d" % len(daemons)), broker=mosquitto)
        daemons.append(d)
        _attach_log(request, "cloudless %d" % len(daemons), d.log_text)
        d.configure(devices, **config)
        if start:
            d.start(wait_online=wait_online)
        return d

    def stop_all():
        for d in daemons:
            d.stop()

    request.addfinalizer(stop_all)
    return start


# Midea AC simulator (helpers.MideaSimulator): start(acs, extra_args=()) -> started and ready;
# `acs` are helpers.make_ac(...) dicts. Every simulator started is stopped at teardown.
@pytest.fixture
def midea_simulator(request, tmp_path):
    sims = []

    def start(acs, extra_args=()):
        sim = helpers.MideaSimulator(acs, tmp_path / ("midea_sim%d" % len(sims)), extra_args=extra_args)
        sims.append(sim)
        _attach_log(request, "midea simulator %d" % len(sims), sim.log_text)
        sim.start()
        return sim

    def stop_all():
        for sim in sims:
            sim.stop()

    request.addfinalizer(stop_all)
    return start


@pytest.fixture
def fake_bluetoothd(request, monkeypatch):
    """A private system bus with the fake bluetoothd (fake_bluez.py: bluez5 template + scripted GATT
    devices) and adapter hci0. DBUS_SYSTEM_BUS_ADDRESS points at it for every process the test starts.
    Stopped, and its directory removed, by a finalizer."""
    import shutil
    import tempfile
    from fake_bluez import FakeBluez
    workdir = Path(tempfile.mkdtemp(prefix="cl-bz-"))  # short: the socket path must fit sun_path
    bluez = FakeBluez(workdir)

    def cleanup():
        bluez.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    request.addfinalizer(cleanup)
    bluez.start()
    bluez.add_adapter("hci0")
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bluez.address)
    return bluez
