output "primary_id" {
  description = "ID of the primary group."
  value       = terraform_data.primary.id
}

output "backup_id" {
  description = "ID of the backup group, or null when backup_enabled is false."
  value       = one(terraform_data.backup[*].id)
}

output "endpoint" {
  description = "DNS name of the service endpoint."
  value       = "${var.name}.service.internal"
}

output "database_id" {
  description = "ID of the service database."
  value       = terraform_data.database.id
}
