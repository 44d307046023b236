locals {
  # The standard tags are applied last so extra_tags cannot override them.
  tags = merge(var.extra_tags, {
    env         = var.environment
    owner       = "platform-team"
    cost_center = "cc-1234"
    managed_by  = "tfkit"
  })
}

module "network" {
  source = "../../modules/network"

  name  = "${var.environment}-vpc"
  cidr  = var.cidr
  zones = var.zones
  tags  = local.tags
}

module "access" {
  source = "../../modules/access"

  rules      = var.access_rules
  network_id = module.network.vpc_id
  tags       = local.tags
}

module "service" {
  source = "../../modules/service"

  name           = "${var.environment}-app"
  instance_type  = var.instance_type
  min_size       = var.min_size
  max_size       = var.max_size
  desired_size   = var.desired_size
  backup_enabled = var.backup_enabled
  subnet_ids     = values(module.network.subnet_ids)
  db_password    = var.db_password
  tags           = local.tags
}
