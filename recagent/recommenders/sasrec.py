"""SASRec next-item recommender (Kang & McAuley 2018), kept small: one causal self-attention block.

Each user's interactions in time order form a sequence; the network reads the last `max_len`
items and scores every catalog item as the next one (dot product with the item embeddings).
Trained with binary cross-entropy on (next item, one random item) per position, Adam. Online
updates append the simulation's watches to the sequences and continue training for
`update_epochs` epochs. d=32, 1 head, like the ensemble simulator's reference SASRec (which uses 2
blocks; one is enough here and halves the cost).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from torch import nn

from ..data import Catalog, Interactions
from .base import top_k
from .state import Accumulated


class SASRecNet(nn.Module):
    def __init__(self, n_items: int, dim: int = 32, max_len: int = 50, blocks: int = 1, heads: int = 1,
                 dropout: float = 0.2):
        super().__init__()
        self.item = nn.Embedding(n_items + 1, dim, padding_idx=0)  # item i is token i + 1; 0 pads
        self.pos = nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=dim, dropout=dropout, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.register_buffer("causal", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(batch, L) tokens -> (batch, L, dim) states; position t sees tokens <= t."""
        length = tokens.shape[1]
        x = self.item(tokens) * (self.item.embedding_dim ** 0.5) + self.pos.weight[:length]
        x = x * (tokens > 0).unsqueeze(-1)
        h = self.encoder(x, mask=self.causal[:length, :length])
        return self.norm(h)

    def item_vectors(self) -> torch.Tensor:
        return self.item.weight[1:]


class SASRecRecommender:
    name = "sasrec"

    def __init__(self, seed: int = 0, dim: int = 32, max_len: int = 50, epochs: int = 10, update_epochs: int = 2,
                 lr: float = 0.005, batch_size: int = 128, threads: int = 1):
        self.dim, self.max_len, self.epochs, self.update_epochs = dim, max_len, epochs, update_epochs
        self.lr, self.batch_size, self.threads = lr, batch_size, threads
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(int(seed))  # nn.Module initialisation uses the global generator

    def fit(self, catalog: Catalog, interactions: Interactions) -> None:
        self.n_items = len(catalog)
        self.data = Accumulated(self.n_items, interactions)
        with torch.random.fork_rng():
            torch.manual_seed(int(self.rng.integers(2**31)))
            self.net = SASRecNet(self.n_items, self.dim, self.max_len)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, betas=(0.9, 0.98))
        self.train(self.epochs)

    def sequences(self, user_ids: np.ndarray, length: int) -> np.ndarray:
        """(n, length) tokens of each user's last `length` items, left-padded with 0."""
        order = np.argsort(self.data.users, kind="stable")
        users, items = self.data.users[order], self.data.items[order]
        starts = np.searchsorted(users, user_ids, "left")
        ends = np.searchsorted(users, user_ids, "right")
        out = np.zeros((len(user_ids), length), np.int64)
        for row, (s, e) in enumerate(zip(starts.tolist(), ends.tolist())):
            seq = items[max(s, e - length):e] + 1
            if len(seq):
                out[row, length - len(seq):] = seq
        return out

    def train(self, epochs: int) -> float:
        users = np.unique(self.data.users)
        if len(users) == 0 or epochs <= 0:
            return float("nan")
        seqs = self.sequences(users, self.max_len + 1)
        inputs, targets = seqs[:, :-1], seqs[:, 1:]
        keep = (targets > 0).sum(1) > 0
        inputs, targets = inputs[keep], targets[keep]
        prev_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        self.net.train()
        loss_value = float("nan")
        try:
            with torch.random.fork_rng():
                torch.manual_seed(int(self.rng.integers(2**31)))  # dropout masks
                for _ in range(epochs):
                    order = self.rng.permutation(len(inputs))
                    total, batches = 0.0, 0
                    for start in range(0, len(order), self.batch_size):
                        idx = order[start:start + self.batch_size]
                        x = torch.from_numpy(inputs[idx])
                        pos = torch.from_numpy(targets[idx])
                        neg = torch.from_numpy(self.rng.integers(1, self.n_items + 1, pos.shape))
                        h = self.net(x)
                        pos_logit = (h * self.net.item(pos)).sum(-1)
                        neg_logit = (h * self.net.item(neg)).sum(-1)
                        mask = (pos > 0).float()
                        bce = nn.functional.binary_cross_entropy_with_logits
                        loss = ((bce(pos_logit, torch.ones_like(pos_logit), reduction="none")
                                 + bce(neg_logit, torch.zeros_like(neg_logit), reduction="none")) * mask).sum() / mask.sum()
                        self.opt.zero_grad()
                        loss.backward()
                        self.opt.step()
                        total += loss.item()
                        batches += 1
                    loss_value = total / max(batches, 1)
        finally:
            torch.set_num_threads(prev_threads)
            self.net.eval()
        return loss_value

    def scores(self, user_ids: np.ndarray) -> np.ndarray:
        tokens = torch.from_numpy(self.sequences(np.asarray(user_ids), self.max_len))
        with torch.no_grad():
            h = self.net(tokens)[:, -1]
            return (h @ self.net.item_vectors().T).numpy().astype(np.float64)

    def recommend(self, user_ids, k, exclude: sparse.csr_matrix | None = None) -> np.ndarray:
        return top_k(self.scores(np.asarray(user_ids)), k, exclude)

    def update(self, feedback: Interactions) -> None:
        self.data.add(feedback)
        self.train(self.update_epochs)
