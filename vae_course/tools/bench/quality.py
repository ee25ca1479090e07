"""Quality per second on the digits: time to 220 nats and the best test negative ELBO in a time budget.

Every model is scored with the digits' Binomial(16, p) likelihood (``vae_course.likelihood_for``); the textbook
recipe still trains on its grey-level BCE.
"""



TARGET_NATS = 220.0  # under Binomial(16, p): the textbook recipe gets there in its first 40 epochs at 2-D and 8-D
QUALITY_SECONDS = 60.0
QUALITY_LATENT_DIMS = (2, 8)

def _evaluation_due(epoch):
    """Epochs after which the textbook run is evaluated: each of the first 100, then every 10th."""
    return epoch <= 100 or epoch % 10 == 0


def _summarise(curve, target, budget):
    """Seconds to reach ``target`` and the best test value within ``budget`` from a [(seconds, epoch, nats)] curve."""
    within = curve  # the run stops at the first checkpoint past the budget: it overshoots by one chunk at most
    reached = next((p for p in curve if p[2] <= target), None)
    best = min(within, key=lambda p: p[2]) if within else None
    return {
        "seconds_to_target": round(reached[0], 3) if reached else None,
        "epochs_to_target": reached[1] if reached else None,
        "best_nats": round(best[2], 3) if best else None,
        "best_at_seconds": round(best[0], 3) if best else None,
        "best_at_epoch": best[1] if best else None,
    }


def run_textbook_quality(x_train, x_test, latent_dim, seconds, seed=0):
    """Fit the digits-scaled textbook recipe for ``seconds`` of training; test negative ELBO along the way."""
    import keras

    from ...vae.elbo import negative_elbo
    from ...vae.recipes import _Clock
    from ...vae.textbook import BATCH_SIZE, make_digits_textbook_vae

    keras.utils.set_random_seed(seed)
    tb = make_digits_textbook_vae(latent_dim, seed=seed).compile()
    clock, curve = _Clock(), []

    class Checkpoints(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            clock.stop()
            done = epoch + 1
            out_of_time = clock.seconds >= seconds
            if _evaluation_due(done) or out_of_time:
                curve.append((clock.seconds, done, negative_elbo(tb, x_test)))
            if out_of_time:
                self.model.stop_training = True
            clock.start()

    clock.start()
    tb.fit(x_train, epochs=10**6, batch_size=BATCH_SIZE, shuffle=True, callbacks=[Checkpoints()])
    clock.stop()
    return curve, {"train_seconds": clock.seconds, "epochs": curve[-1][1] if curve else 0,
                   "final_nats": round(curve[-1][2], 3) if curve else None,
                   "recipe": "dense 64-48-32 SELU, RMSprop (Keras defaults), batch 128, mean BCE + KL / 64, fit"}


def run_course_quality(x_train, x_test, latent_dim, seconds, seed=0):
    """``recipes.train_best`` for ``seconds``; test negative ELBO at its checkpoints (not counted as training)."""
    from ...vae.elbo import negative_elbo
    from ...vae.recipes import train_best

    curve = []
    vae, info = train_best(x_train, latent_dim, seconds=seconds, seed=seed,
                           callback=lambda model, t, epoch: curve.append((t, epoch, negative_elbo(model, x_test))))
    info = dict(info)
    info["final_nats"] = round(negative_elbo(vae, x_test), 3)
    return curve, info


def measure_quality(quick=False, seconds=None, latent_dims=None, seed=0):
    from ...vae.data import load_dataset

    seconds = seconds or (1.0 if quick else QUALITY_SECONDS)
    latent_dims = latent_dims or ((2,) if quick else QUALITY_LATENT_DIMS)
    (x_train, _), (x_test, _) = load_dataset("digits")
    result = {"dataset": "digits", "target_nats": TARGET_NATS, "budget_seconds": seconds, "seed": seed,
              "units": ("test negative ELBO, nats per image (-log p(x | z) under Binomial(16, p) + KL, 10 z samples), "
                        "every model scored the same way whatever it trained on"), "latent": {}}
    for k in latent_dims:
        entry = {}
        for name, runner in (("textbook", run_textbook_quality), ("vae_course", run_course_quality)):
            curve, info = runner(x_train, x_test, k, seconds, seed)
            entry[name] = {**_summarise(curve, TARGET_NATS, seconds), **info,
                           "curve": [[round(t, 3), e, round(v, 3)] for t, e, v in curve]}
        a, b = entry["textbook"]["seconds_to_target"], entry["vae_course"]["seconds_to_target"]
        entry["speedup_to_target"] = round(a / b, 2) if a and b else None
        result["latent"][str(k)] = entry
    return result
