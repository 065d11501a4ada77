"""Map the top-level folders onto the ``gazefusion`` namespace (docs/architecture.md, Layout)."""

from setuptools import find_packages, setup

ROOTS = ("fusion", "trackers", "calibration")

packages = [f"gazefusion.{name}" for name in find_packages(include=[f"{root}*" for root in ROOTS])]
package_dir = {f"gazefusion.{root}": root for root in ROOTS}
# The YAML configurations ship as data, so `gazefusion demo` finds them when installed.
packages.append("gazefusion.config")
package_dir["gazefusion.config"] = "config"

setup(packages=packages, package_dir=package_dir, package_data={"gazefusion.config": ["*.yaml"]})
