"""f_sta: a SASRec sequence model (Kang & McAuley 2018) that predicts whether the next item is liked.

Input tokens are the user's rated items in time order, each embedded as item + rating + position
(counted from the right: the most recent token is always at position max_len - 1, however long the
input), after a learned begin-of-sequence token (so an empty history still has a representation:
the population prior of each candidate). Two causal self-attention blocks (d=32, one head, as in
the reference) give a hidden state h_t per position; the logit that the item at t+1 is liked is
h_t · q_item + b_item + b. Training is binary cross-entropy on the like labels (rating >= 3) of
every next item, Adam (lr 0.005), each user's last rating held out to pick the best epoch by AUC
(the reference's leave-one-out). The sigmoid is applied exactly once, in `predict` (the reference
applied it twice, which pushed every output above 0.5).

Cold start: with no history the model sees only the begin token and scores a candidate by what
the population thought of it; with only liked or only disliked history it reads those ratings.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import LIKE_THRESHOLD


class SASRecNet(nn.Module):
    def __init__(self, n_items: int, dim: int = 32, layers: int = 2, heads: int = 1, max_len: int = 50,
                 dropout: float = 0.2):
        super().__init__()
        self.n_items, self.dim, self.max_len, self.heads = n_items, dim, max_len, heads
        self.bos = n_items + 1  # token ids: 0 padding, 1..n_items items, n_items+1 begin
        self.item_in = nn.Embedding(n_items + 2, dim, padding_idx=0)
        self.rating_in = nn.Embedding(6, dim, padding_idx=0)
        self.position = nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=dim, dropout=dropout, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.item_out = nn.Embedding(n_items + 1, dim)
        self.item_bias = nn.Embedding(n_items + 1, 1)
        self.bias = nn.Parameter(torch.zeros(1))
        nn.init.normal_(self.item_out.weight, std=0.05)
        nn.init.zeros_(self.item_bias.weight)

    def encode(self, tokens: torch.Tensor, ratings: torch.Tensor) -> torch.Tensor:
        """(B, L) left-padded token ids and rating ids -> (B, L, d) hidden states."""
        batch, length = tokens.shape
        positions = torch.arange(self.max_len - length, self.max_len, device=tokens.device).unsqueeze(0)
        x = self.item_in(tokens) * math.sqrt(self.dim) + self.rating_in(ratings) + self.position(positions)
        x = self.dropout(x)
        pad = tokens == 0
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=tokens.device), 1)
        mask = causal.unsqueeze(0) | pad.unsqueeze(1)  # (B, L, L): True = may not attend
        eye = torch.eye(length, dtype=torch.bool, device=tokens.device).unsqueeze(0)
        mask = (mask & ~eye).repeat_interleave(self.heads, 0)  # a position may always see itself
        return self.norm(self.encoder(x, mask=mask))

    def last_hidden(self, tokens: torch.Tensor, ratings: torch.Tensor) -> torch.Tensor:
        """encode(tokens, ratings)[:, -1] without the work that output does not need (inference only).

        The last block computes its query, attention and feed-forward for the last position only,
        and the attention is written out for one head; equal to `encode` up to float rounding.
        Padded keys get a large finite negative score instead of -inf: the last position (a real
        token) gives them weight exactly 0 either way, and rows of padding stay finite (no NaN),
        so no per-row exception to the causal mask is needed.
        """
        batch, length = tokens.shape
        d = self.dim
        x = F.embedding(tokens, self.item_in.weight) * math.sqrt(d)
        x += F.embedding(ratings, self.rating_in.weight)
        x += self.position.weight[self.max_len - length:]
        causal = torch.full((length, length), float("-inf")).triu_(1)
        key_pad = torch.where(tokens == 0, -1e9, 0.0).unsqueeze(1)  # (B, 1, L)
        layers = self.encoder.layers
        for n, layer in enumerate(layers):
            h = F.layer_norm(x, (d,), layer.norm1.weight, layer.norm1.bias, layer.norm1.eps)
            w, b = layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias
            if n == len(layers) - 1:
                q = F.linear(h[:, -1:], w[:d], b[:d])
                k, v = F.linear(h, w[d:], b[d:]).split(d, -1)
                mask, x = key_pad, x[:, -1:]
            else:
                q, k, v = F.linear(h, w, b).split(d, -1)
                mask = key_pad + causal
            attention = torch.softmax(torch.baddbmm(mask, q, k.transpose(1, 2), alpha=1 / math.sqrt(d)), -1)
            x = x + layer.self_attn.out_proj(attention @ v)
            h = F.layer_norm(x, (d,), layer.norm2.weight, layer.norm2.bias, layer.norm2.eps)
            x = x + layer.linear2(F.relu(layer.linear1(h)))
        return F.layer_norm(x[:, -1], (d,), self.norm.weight, self.norm.bias, self.norm.eps)

    def logits(self, hidden: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """hidden (..., d), candidates (...) item ids 0..n-1 -> (...) like logits."""
        ids = candidates + 1
        return (hidden * self.item_out(ids)).sum(-1) + self.item_bias(ids).squeeze(-1) + self.bias


def rating_ids(ratings: np.ndarray) -> np.ndarray:
    """1-5 ratings as embedding ids 1..5 (rounded, clipped); NaN (padding) -> 0."""
    r = np.nan_to_num(np.asarray(ratings, dtype=np.float64), nan=0.0)
    return np.where(r > 0, np.clip(np.rint(r), 1, 5), 0).astype(np.int64)


def context_tokens(hist_items: np.ndarray, hist_ratings: np.ndarray, max_len: int, bos: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, L) padded history (-1 pad, most recent last) -> model input of the last max_len tokens.

    The begin token precedes the history; only the most recent `max_len` tokens are kept.
    """
    n, width = hist_items.shape
    tokens = np.concatenate([np.zeros((n, 1), dtype=np.int64), np.where(hist_items >= 0, hist_items + 1, 0)], 1)
    ratings = np.concatenate([np.zeros((n, 1), dtype=np.int64), rating_ids(hist_ratings)], 1)
    lengths = (hist_items >= 0).sum(1)
    tokens[np.arange(n), width - lengths] = bos  # just before the first real item
    return tokens[:, -max_len:], ratings[:, -max_len:]


class SASRec:
    """Trains a SASRecNet on interaction sequences and scores (history, candidate) pairs."""

    name = "f_sta"

    def __init__(self, n_items: int, dim: int = 32, layers: int = 2, max_len: int = 50, epochs: int = 30,
                 batch_size: int = 128, lr: float = 0.005, dropout: float = 0.2, patience: int = 5,
                 seed: int = 0, like_threshold: float = LIKE_THRESHOLD, threads: int = 1, trim: bool = False):
        self.params = dict(dim=dim, layers=layers, max_len=max_len, epochs=epochs, batch_size=batch_size, lr=lr,
                           dropout=dropout, patience=patience)
        self.n_items, self.seed, self.like_threshold, self.threads = n_items, seed, like_threshold, threads
        # trim: cut each training batch to its longest sequence (faster for short histories; the
        # dropout draws then differ from an untrimmed run, so fits of whole datasets leave it off
        # and stay identical to before)
        self.trim = trim
        self.max_len = max_len
        torch.manual_seed(seed)
        self.net = SASRecNet(n_items, dim, layers, 1, max_len, dropout)
        self.history: list[dict] = []

    # --- training -------------------------------------------------------------------------------
    def _windows(self, seqs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
        """Cut each sequence into windows of max_len next-item targets, aligned to its end."""
        L, bos = self.max_len, self.net.bos
        tok_rows, rat_rows, tgt_rows, lab_rows = [], [], [], []
        for items, ratings in seqs:
            if len(items) == 0:
                continue
            tokens = np.concatenate([[bos], items[:-1] + 1])
            rids = np.concatenate([[0], rating_ids(ratings[:-1])])
            labels = (ratings >= self.like_threshold).astype(np.float32)
            for end in range(len(items), 0, -L):
                start = max(0, end - L)
                pad = L - (end - start)
                tok_rows.append(np.pad(tokens[start:end], (pad, 0)))
                rat_rows.append(np.pad(rids[start:end], (pad, 0)))
                tgt_rows.append(np.pad(items[start:end], (pad, 0), constant_values=-1))
                lab_rows.append(np.pad(labels[start:end], (pad, 0)))
        return tuple(np.array(x) for x in (tok_rows, rat_rows, tgt_rows, lab_rows))

    def fit(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, times: np.ndarray,
            progress=None) -> SASRec:
        """Train on interactions (dense ids); `progress(epoch, n_epochs)` is called after each epoch."""
        from sklearn.metrics import roc_auc_score

        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        old_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            order = np.lexsort((times, users))
            u, i, r = users[order], items[order], ratings[order].astype(np.float64)
            bounds = np.flatnonzero(np.diff(u)) + 1
            seqs = list(zip(np.split(i, bounds), np.split(r, bounds))) if len(u) else []
            train_seqs = [(s[:-1], q[:-1]) if len(s) >= 2 else (s, q) for s, q in seqs]
            val = [(s[:-1], q[:-1], s[-1], q[-1]) for s, q in seqs if len(s) >= 2]
            tok, rat, tgt, lab = self._windows(train_seqs)
            n_tokens = (tok != 0).sum(1) if len(tok) else np.zeros(0, dtype=np.int64)
            net, P = self.net, self.params
            opt = torch.optim.Adam(net.parameters(), lr=P["lr"], weight_decay=0.0)
            loss_fn = nn.BCEWithLogitsLoss(reduction="sum")  # logits in, so the sigmoid is applied once
            best_auc, best_state, bad = -1.0, None, 0
            for epoch in range(P["epochs"]):
                net.train()
                perm = rng.permutation(len(tok))
                for start in range(0, len(perm), P["batch_size"]):
                    b = perm[start:start + P["batch_size"]]
                    # cut the columns that are padding in every row (positions count from the right,
                    # so nothing else changes): short sequences do not pay for max_len
                    width = int(n_tokens[b].max()) if self.trim else tok.shape[1]
                    t_tok, t_rat = torch.from_numpy(tok[b, -width:]), torch.from_numpy(rat[b, -width:])
                    t_tgt, t_lab = torch.from_numpy(tgt[b, -width:]), torch.from_numpy(lab[b, -width:])
                    valid = t_tgt >= 0
                    hidden = net.encode(t_tok, t_rat)
                    logit = net.logits(hidden[valid], t_tgt[valid])
                    loss = loss_fn(logit, t_lab[valid]) / max(int(valid.sum()), 1)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                auc = self._val_auc(val, roc_auc_score)
                self.history.append({"epoch": epoch + 1, "val_auc": auc, "loss": float(loss.detach())})
                if progress:
                    progress(epoch + 1, P["epochs"])
                if auc > best_auc + 1e-4:
                    best_auc, bad = auc, 0
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    bad += 1
                    if bad >= P["patience"]:
                        break
            if best_state is not None:
                net.load_state_dict(best_state)
            self.best_val_auc = best_auc
        finally:
            torch.set_num_threads(old_threads)
        self.net.eval()
        return self

    def _val_auc(self, val, roc_auc_score) -> float:
        if not val:
            return 0.0
        width = max(len(v[0]) for v in val)
        hist_i = np.full((len(val), max(width, 1)), -1, dtype=np.int64)
        hist_r = np.full(hist_i.shape, np.nan)
        for row, (s, q, _, _) in enumerate(val):
            if len(s):
                hist_i[row, -len(s):], hist_r[row, -len(s):] = s, q
        cand = np.array([v[2] for v in val])
        labels = np.array([v[3] for v in val]) >= self.like_threshold
        logits = self.hidden_logits(self.user_hidden(hist_i, hist_r), cand)
        return float(roc_auc_score(labels, logits)) if 0 < labels.sum() < len(labels) else 0.5

    # --- inference ----------------------------------------------------------------------------------
    @torch.inference_mode()
    def user_hidden(self, hist_items: np.ndarray, hist_ratings: np.ndarray, batch: int = 128) -> np.ndarray:
        """(n, d) state after each padded history (-1 pad, most recent last); no dropout whatever the mode.

        Histories run shortest first in batches of `batch`, each cut to its longest context, so
        short histories do not pay for padding (positions count from the right, and padded keys
        get weight 0, so the cut changes nothing).
        """
        tok, rat = context_tokens(hist_items, hist_ratings, self.max_len, self.net.bos)
        n_tokens = (tok != 0).sum(1)
        order = np.argsort(n_tokens, kind="stable")
        out = np.zeros((len(tok), self.net.dim), dtype=np.float32)
        old_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)  # small matrices: more threads than cores only fight (as in fit)
        try:
            for start in range(0, len(order), batch):
                rows = order[start:start + batch]
                width = int(n_tokens[rows].max())
                out[rows] = self.net.last_hidden(torch.from_numpy(tok[rows, -width:]),
                                                 torch.from_numpy(rat[rows, -width:])).numpy()
        finally:
            torch.set_num_threads(old_threads)
        return out

    def output_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Candidate embeddings (n_items, d) and biases (n_items,) incl. the global bias, as numpy."""
        with torch.no_grad():
            q = self.net.item_out.weight[1:].numpy().copy()
            b = (self.net.item_bias.weight[1:, 0] + self.net.bias).numpy().copy()
        return q, b

    def hidden_logits(self, hidden: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        q, b = self.output_tables()
        return (hidden * q[candidates]).sum(1) + b[candidates]

    # --- persistence ----------------------------------------------------------------------------
    def state(self) -> dict:
        return {"n_items": self.n_items, "seed": self.seed, "params": self.params,
                "like_threshold": self.like_threshold, "weights": self.net.state_dict(),
                "history": self.history}

    @classmethod
    def from_state(cls, state: dict) -> SASRec:
        p = state["params"]
        model = cls(state["n_items"], dim=p["dim"], layers=p["layers"], max_len=p["max_len"], epochs=p["epochs"],
                    batch_size=p["batch_size"], lr=p["lr"], dropout=p["dropout"], patience=p["patience"],
                    seed=state["seed"], like_threshold=state["like_threshold"])
        model.net.load_state_dict(state["weights"])
        model.net.eval()
        model.history = state.get("history", [])
        return model
