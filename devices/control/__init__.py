"""The seed's command flow: an operator's change becomes device commands.

validate (catalog + AccessService) → edit lease → per-user rate limit → throttled device client
→ on success, record exactly what the device accepted in the state snapshot.
"""
