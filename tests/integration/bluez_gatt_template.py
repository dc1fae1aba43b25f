"""python-dbusmock template: the stock `bluez5` template (adapters, devices, discovery; docs/ble.md
§7.2) plus scripted GATT peripherals (fake_gatt_devices.py: a Mi kettle, a Mi standard-auth sensor)
that a test controls through one method on "/":

    org.cloudless.FakeBluez.Gatt.Control(s command, s json_args) -> s json_result

Start it with `python3 -m dbusmock --template /path/to/bluez_gatt_template.py` (dbusmock loads a
template given as a path ending in .py). fake_bluez.FakeBluez does this and wraps every command.

Everything runs on the mock's GLib main loop: no call blocks, every delay is a one-shot timer.
"""

import os
import sys

import dbus

# dbusmock reads these from the template module.
BUS_NAME = "org.bluez"
MAIN_OBJ = "/"
SYSTEM_BUS = True
IS_OBJECT_MANAGER = True

CONTROL_IFACE = "org.cloudless.FakeBluez.Gatt"

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def load(mock, parameters):
    # The stock template first: org.bluez.Mock (AddAdapter, AddDevice, ...), AgentManager1, ...
    mock.AddTemplate("bluez5", parameters or {})


@dbus.service.method(CONTROL_IFACE, in_signature="ss", out_signature="s")
def Control(self, command, args_json):
    import fake_gatt_devices  # imported on first use: the module needs the mock's objects in place
    return fake_gatt_devices.control(str(command), str(args_json))
