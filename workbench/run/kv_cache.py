"""The key/value cache of continuous batching: a prefilled group's rows joined to the running
batch's cache (the shorter side left-padded), and leading padding every row masks out trimmed
away. Only caches of plain growing key/value tensors are joined; window-limited ones are not."""

from __future__ import annotations

from typing import Any

# Trim leading padding columns once at least this many are unused by every remaining sequence.
TRIM_MIN = 8


def _plain_layers(cache: Any) -> list[Any] | None:
    """The cache's layers when they are plain growing key/value tensors, else None."""
    layers = getattr(cache, "layers", None)
    if not layers:
        return None
    for layer in layers:
        if getattr(layer, "is_sliding", False) or not hasattr(layer, "keys"):
            return None
    return layers


def joinable(cache: Any) -> bool:
    return _plain_layers(cache) is not None


def join_cache(cache: Any, mask: Any, new_cache: Any, new_mask: Any) -> Any:
    """Append a prefilled group's cache rows to ``cache``, left-padding the shorter side."""
    import torch

    width, new_width = mask.shape[1], new_mask.shape[1]
    for layer, nl in zip(_plain_layers(cache), _plain_layers(new_cache), strict=True):
        k, v, nk, nv = layer.keys, layer.values, nl.keys, nl.values
        if new_width > width:
            k, v = _left_pad(k, new_width - width), _left_pad(v, new_width - width)
        elif width > new_width:
            nk, nv = _left_pad(nk, width - new_width), _left_pad(nv, width - new_width)
        layer.keys, layer.values = torch.cat([k, nk]), torch.cat([v, nv])
    if new_width > width:
        mask = torch.cat([mask.new_zeros((mask.shape[0], new_width - width)), mask], dim=1)
    elif width > new_width:
        new_mask = torch.cat([new_mask.new_zeros((new_mask.shape[0], width - new_width)),
                              new_mask], dim=1)
    return torch.cat([mask, new_mask])


def _left_pad(t: Any, n: int) -> Any:
    import torch

    shape = list(t.shape)
    shape[-2] = n
    return torch.cat([t.new_zeros(shape), t], dim=-2)


def trim_padding(mask: Any, cache: Any) -> Any:
    """Drop leading columns that every remaining sequence masks out, from mask and cache."""
    unused = int((mask.sum(0) == 0).long().cumprod(0).sum())
    if unused < TRIM_MIN:
        return mask
    layers = _plain_layers(cache)
    if layers is None:
        return mask  # window-limited caches are not aligned with the mask: leave them be
    for layer in layers:
        if layer.keys is not None and layer.keys.numel():
            layer.keys = layer.keys[..., unused:, :]
            layer.values = layer.values[..., unused:, :]
    return mask[:, unused:]
