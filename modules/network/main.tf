resource "terraform_data" "vpc" {
  input = {
    name = var.name
    cidr = var.cidr
    tags = var.tags
  }
}

resource "terraform_data" "subnet" {
  for_each = toset(var.zones)

  input = {
    name = "${var.name}-${each.key}"
    zone = each.key
    cidr = cidrsubnet(var.cidr, var.subnet_newbits, index(var.zones, each.key))
    vpc  = terraform_data.vpc.id
    tags = var.tags
  }
}
