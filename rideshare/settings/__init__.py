"""Settings, all from the environment with defaults that run a fresh clone with no services.

Nothing set: DEBUG on, SQLite file, in-process channel layer.
DATABASE_URL / REDIS_URL switch to PostgreSQL / Redis with the same code paths.

One module per concern: `base` (Django, database, caches, auth, the domain, operations,
security), `realtime` (channel layer, socket, presence, positions, event log), `push`, `demo`
(the demo fleet and the web console); `environment` reads the environment for all of them.
"""

from .base import *  # noqa: F401,F403
from .demo import *  # noqa: F401,F403
from .push import *  # noqa: F401,F403
from .realtime import *  # noqa: F401,F403
