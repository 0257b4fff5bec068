"""What a run is told to do, and its one owner per fact:

- ``table``: every setting (flag, config key, variable, default, help) in one table;
- ``types``: the kinds of value a setting takes, each checked at load time;
- ``config``: ``config.toml``, the environment and the flags into frozen ``Settings``;
- ``genres``: TMDB's genres by id, slug and alias; ``lake_url``: a lake URL's rules;
- ``fleet``: each process's share of an egress IP's request budget; ``invalid``: a refused value.
"""
