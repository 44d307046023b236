output "vpc_id" {
  description = "ID of the network (VPC)."
  value       = terraform_data.vpc.id
}

output "subnet_cidrs" {
  description = "Map of zone to subnet CIDR block."
  value       = { for zone, subnet in terraform_data.subnet : zone => subnet.input.cidr }
}

output "subnet_ids" {
  description = "Map of zone to subnet ID."
  value       = { for zone, subnet in terraform_data.subnet : zone => subnet.id }
}
