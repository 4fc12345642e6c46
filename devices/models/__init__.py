from devices.models.catalog import NexxEnumLabel
from devices.models.integration import ConnectionStyle, NexxAuthMode, NexxSettings, QuartzSettings
from devices.models.inventory import Multiviewer, Source
from devices.models.layouts import Layout, LayoutWindow
from devices.models.lease import EditLease
from devices.models.throttle import DeviceThrottle

__all__ = [
    "ConnectionStyle",
    "DeviceThrottle",
    "EditLease",
    "Layout",
    "LayoutWindow",
    "Multiviewer",
    "NexxAuthMode",
    "NexxEnumLabel",
    "NexxSettings",
    "QuartzSettings",
    "Source",
]
