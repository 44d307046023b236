output "vpc_id" {
  description = "ID of the environment network."
  value       = module.network.vpc_id
}

output "subnet_cidrs" {
  description = "Map of zone to subnet CIDR block."
  value       = module.network.subnet_cidrs
}

output "service_endpoint" {
  description = "DNS name of the service endpoint."
  value       = module.service.endpoint
}

output "rule_count" {
  description = "Number of access rules in the environment."
  value       = module.access.rule_count
}
