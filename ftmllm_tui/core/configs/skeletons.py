"""Minimal configs to start from, one per kind of LLaMA-Factory job (the smallest set of keys that
runs; everything else keeps LLaMA-Factory's defaults). Placeholders are real values that validate:
a hub model id, the demo dataset of LLaMA-Factory's data/ folder, an output folder under saves/."""

from __future__ import annotations

SKELETONS: dict[str, tuple[str, str]] = {
    "sft": ("LoRA supervised fine-tuning (train)", """\
### model
model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct
trust_remote_code: true

### method
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all

### dataset
dataset: alpaca_en_demo
dataset_dir: data
template: qwen
cutoff_len: 2048
preprocessing_num_workers: 8

### output
output_dir: saves/qwen2.5-0.5b/lora/sft
logging_steps: 10
save_steps: 500
plot_loss: true
overwrite_output_dir: true
report_to: none

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 1.0e-4
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true

### eval
val_size: 0.1
per_device_eval_batch_size: 1
eval_strategy: steps
eval_steps: 500
"""),
    "dpo": ("LoRA preference tuning, DPO (train)", """\
### model
model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct
trust_remote_code: true

### method
stage: dpo
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all
pref_beta: 0.1
pref_loss: sigmoid

### dataset
dataset: dpo_en_demo
dataset_dir: data
template: qwen
cutoff_len: 2048

### output
output_dir: saves/qwen2.5-0.5b/lora/dpo
logging_steps: 10
save_steps: 500
plot_loss: true
overwrite_output_dir: true
report_to: none

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 5.0e-6
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
"""),
    "chat": ("chat with a model and its LoRA adapter (chat / webchat / api)", """\
model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct
adapter_name_or_path: saves/qwen2.5-0.5b/lora/sft
template: qwen
finetuning_type: lora
infer_backend: huggingface
trust_remote_code: true
"""),
    "eval": ("predict on a dataset, BLEU and ROUGE (train with do_predict)", """\
### model
model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct
adapter_name_or_path: saves/qwen2.5-0.5b/lora/sft
trust_remote_code: true

### method
stage: sft
do_predict: true
finetuning_type: lora

### dataset
eval_dataset: alpaca_en_demo
dataset_dir: data
template: qwen
cutoff_len: 2048
max_samples: 100

### output
output_dir: saves/qwen2.5-0.5b/lora/predict
overwrite_output_dir: true
report_to: none

### eval
per_device_eval_batch_size: 1
predict_with_generate: true
"""),
    "export": ("merge the LoRA adapter into the model and export it", """\
### model
model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct
adapter_name_or_path: saves/qwen2.5-0.5b/lora/sft
template: qwen
finetuning_type: lora
trust_remote_code: true

### export
export_dir: output/qwen2.5-0.5b_lora_sft
export_size: 5
export_device: cpu
export_legacy_format: false
"""),
}

COMMAND_OF = {"sft": "train", "dpo": "train", "chat": "chat", "eval": "train", "export": "export"}
