"""The Evertz NEXX frame: parameter and layout catalogs, EV API codec, client, service, emulator.

    catalog.py   every EV varid as data (scope, access, type, allowed values, conversions)
    layouts.py   layouts 1..43: window counts and the shipped normalised rectangles
    codec.py     request paths and reply formats, without I/O (client and emulator share it)
    client.py    NexxClient: httpx, batching by 40, auth, retries, typed errors
    service.py   NexxService: the one throttled client per process, operator values
    emulator.py  NexxEmulator: a frame in a thread for tests and the demo
"""
