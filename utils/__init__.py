"""Course package for *Deep Learning for the Social Sciences*.

Modules (import what a chapter needs; importing has no side effects):

- ``utils.course``  ``setup()``: seeds, quiet logs, fast mode, versions, data source
- ``utils.data``    named loaders with data sheets, online and offline paths
- ``utils.plots``   training curves, image grids, decision boundaries
- ``utils.widgets`` interactive demos that also work as plain functions
"""

__version__ = "0.1.0"
