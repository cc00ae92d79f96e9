"""Private core: writers, the step axis, the chief decision, argument checks."""
