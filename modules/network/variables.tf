variable "name" {
  type        = string
  description = "Name of the network (VPC)."
}

variable "cidr" {
  type        = string
  description = "CIDR block of the network, e.g. 10.10.0.0/16."

  validation {
    condition     = can(cidrhost(var.cidr, 0))
    error_message = "The cidr must be a valid IPv4 or IPv6 CIDR block, e.g. 10.10.0.0/16."
  }
}

variable "zones" {
  type        = list(string)
  description = "Availability zones; one subnet is created per zone."

  validation {
    condition     = length(var.zones) >= 1 && length(var.zones) <= 6
    error_message = "Between 1 and 6 zones must be given."
  }
}

variable "subnet_newbits" {
  type        = number
  description = "Number of bits added to the network prefix for each subnet (see cidrsubnet)."
  default     = 4

  validation {
    condition     = var.subnet_newbits >= 1 && var.subnet_newbits <= 8
    error_message = "The subnet_newbits must be between 1 and 8."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every network resource."
  default     = {}
}
