"""Matrix factorisation trained with BPR (Rendle et al. 2009) in torch, retrained online.

score(u, i) = p_u . q_i + b_i. Training samples (user, consumed item, random item) triples and
maximises log sigmoid(score(u, pos) - score(u, neg)). Every interaction is a positive (implicit
feedback: what was watched), optionally only those rated at least `min_rating`.

Online retraining (`update`): new feedback is appended and training continues from the current
weights for `update_epochs` passes over everything seen (a warm start, not a refit). The model's
own seeded generator drives initialisation and sampling, so runs are reproducible.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse

from ..data import Catalog, Interactions
from .base import top_k
from .state import Accumulated


class BPRMFRecommender:
    name = "mf"

    def __init__(self, seed: int = 0, dim: int = 32, epochs: int = 20, update_epochs: int = 2, lr: float = 0.01,
                 reg: float = 1e-4, batch_size: int = 4096, min_rating: float = 0.0, threads: int = 1):
        self.dim, self.epochs, self.update_epochs = dim, epochs, update_epochs
        self.lr, self.reg, self.batch_size, self.min_rating = lr, reg, batch_size, min_rating
        self.threads = threads
        self.rng = np.random.default_rng(seed)
        self.torch_gen = torch.Generator().manual_seed(int(seed))

    def fit(self, catalog: Catalog, interactions: Interactions) -> None:
        self.data = Accumulated(len(catalog), interactions)
        self.n_items = len(catalog)
        n_users = max(self.data.n_users, 1)
        self.user_emb = torch.nn.Parameter(torch.randn(n_users, self.dim, generator=self.torch_gen) * 0.1)
        self.item_emb = torch.nn.Parameter(torch.randn(self.n_items, self.dim, generator=self.torch_gen) * 0.1)
        self.item_bias = torch.nn.Parameter(torch.zeros(self.n_items))
        self._optimiser()
        self.train(self.epochs)

    def _optimiser(self) -> None:
        self.opt = torch.optim.Adam([self.user_emb, self.item_emb, self.item_bias], lr=self.lr)

    def _grow_users(self, n_users: int) -> None:
        extra = n_users - self.user_emb.shape[0]
        if extra > 0:
            new = torch.randn(extra, self.dim, generator=self.torch_gen) * 0.1
            self.user_emb = torch.nn.Parameter(torch.cat([self.user_emb.detach(), new]))
            self._optimiser()

    def train(self, epochs: int) -> float:
        """`epochs` passes of BPR over the positives; returns the last epoch's mean loss."""
        keep = self.data.ratings >= self.min_rating
        users, items = self.data.users[keep], self.data.items[keep]
        if len(users) == 0 or epochs <= 0:
            return float("nan")
        seen = self.data.matrix(self.min_rating)
        prev_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        loss_sum = 0.0
        try:
            for _ in range(epochs):
                order = self.rng.permutation(len(users))
                neg = self.rng.integers(0, self.n_items, len(users))
                # resample negatives that the user did consume (one retry is enough to matter little)
                clash = np.asarray(seen[users[order], neg]).ravel() > 0
                neg[clash] = self.rng.integers(0, self.n_items, int(clash.sum()))
                loss_sum, batches = 0.0, 0
                for start in range(0, len(users), self.batch_size):
                    idx = order[start:start + self.batch_size]
                    u = torch.from_numpy(users[idx])
                    p = torch.from_numpy(items[idx])
                    n = torch.from_numpy(neg[start:start + self.batch_size])
                    pu = self.user_emb[u]
                    diff = (pu * (self.item_emb[p] - self.item_emb[n])).sum(1) + self.item_bias[p] - self.item_bias[n]
                    loss = -torch.nn.functional.logsigmoid(diff).mean()
                    loss = loss + self.reg * (pu.pow(2).sum() + self.item_emb[p].pow(2).sum()
                                              + self.item_emb[n].pow(2).sum()) / len(idx)
                    self.opt.zero_grad()
                    loss.backward()
                    self.opt.step()
                    loss_sum += loss.item()
                    batches += 1
                loss_sum /= max(batches, 1)
        finally:
            torch.set_num_threads(prev_threads)
        return loss_sum

    def scores(self, user_ids: np.ndarray) -> np.ndarray:
        user_ids = np.asarray(user_ids)
        with torch.no_grad():
            known = user_ids < self.user_emb.shape[0]
            pu = torch.zeros(len(user_ids), self.dim)
            pu[torch.from_numpy(np.flatnonzero(known))] = self.user_emb[torch.from_numpy(user_ids[known])]
            s = pu @ self.item_emb.T + self.item_bias
        return s.numpy().astype(np.float64)

    def recommend(self, user_ids, k, exclude: sparse.csr_matrix | None = None) -> np.ndarray:
        return top_k(self.scores(np.asarray(user_ids)), k, exclude)

    def update(self, feedback: Interactions) -> None:
        self.data.add(feedback)
        self._grow_users(self.data.n_users)
        self.train(self.update_epochs)
