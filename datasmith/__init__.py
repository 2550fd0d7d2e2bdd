"""DataSmith's dataset: read the warehouse as tasks (see datasmith.api)."""


def __getattr__(name: str):
    # Lazy: importing the package must not pull in pandas.
    if name in ("Dataset", "Task"):
        from datasmith import api

        return getattr(api, name)
    raise AttributeError(name)


__all__ = ["Dataset", "Task"]
