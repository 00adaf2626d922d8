"""People of a school, their roles and classes, and the roster import."""
