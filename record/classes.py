"""Object classes of the two datasets, in the order their label ids and network channels use."""

from __future__ import annotations

__all__ = ["CARRADA_CLASSES", "ROD2021_CLASSES", "class_id"]

from record.errors import InputError

#: ROD2021 / CRUW object classes; the id is the index (cruw-devkit ``object_config.json``).
ROD2021_CLASSES: tuple[str, ...] = ("pedestrian", "cyclist", "car")

#: CARRADA mask channels; id 0 is background (``annotations/dense`` masks, MVRSS class weights).
CARRADA_CLASSES: tuple[str, ...] = ("background", "pedestrian", "cyclist", "car")


def class_id(name: str, classes: tuple[str, ...] = ROD2021_CLASSES) -> int:
    """Index of ``name`` in ``classes``; raises :class:`InputError` naming the known classes."""
    try:
        return classes.index(name)
    except ValueError:
        raise InputError(f"unknown class name {name!r} (expected one of {', '.join(classes)})") from None
