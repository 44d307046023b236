output "rule_ids" {
  description = "Map of rule name to rule ID."
  value       = { for name, rule in terraform_data.rule : name => rule.id }
}

output "rule_count" {
  description = "Number of access rules."
  value       = length(terraform_data.rule)
}
