"""Process-wide caches for the simulator: what moto and botocore would otherwise redo per request.

One botocore data loader for the whole simulator process.

botocore caches what it parses per Loader instance, and the simulator has several: the boto3
session the seeder's clients come from, moto's backends (a Session for their regions), moto's own
loader for response shapes (a new one per service), and the request validator. Each parsed the same
JSON models again (EC2's alone is ~50 ms), and every test process starts a simulator: sharing one
loader cut the simulator's CPU (tests/sim/README.md, "Cost"). The models are read, never changed,
after loading, so sharing them is safe.
"""

from __future__ import annotations

import functools

import botocore.loaders
import botocore.session

_create_loader = functools.lru_cache(maxsize=None)(botocore.loaders.create_loader)
botocore.loaders.create_loader = _create_loader
botocore.session.create_loader = _create_loader

import moto.core.loaders  # noqa: E402
import moto.core.utils  # noqa: E402

_moto_create_loader = functools.lru_cache(maxsize=None)(moto.core.loaders.create_loader)
moto.core.loaders.create_loader = _moto_create_loader
moto.core.utils.create_loader = _moto_create_loader

import moto.backends  # noqa: E402
import moto.moto_server.werkzeug_app  # noqa: E402

# moto lists its own package directory (~180 isdir calls) on every request to find the backend a
# host names; the list never changes while the process runs.
_MOTO_MODULES = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: _MOTO_MODULES
