"""Proportions of a face in eye distances (the outer eye corners' distance): what tracking measures against and the
renderer's rig moves by, so that a tracked motion plays back as it was measured."""

NECK_PIVOT = (0.1, 0.9)  # the head turns about a point this far below and behind the chin
EYEBALL_RADIUS = 0.12  # the iris centre sits on an eyeball of this radius (12 mm of ~95 mm) turning about its centre
CORNER_DROP = 0.35  # the mouth corners follow the jaw this fraction of the way down the lip gap
