using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Agents;

/// <summary>Settings of agent runs, under <c>Agents</c>; validated at start-up like every section.</summary>
public sealed class AgentOptions
{
    public const string SectionName = "Agents";

    /// <summary>How long a thread may wait between runs before it is forgotten.</summary>
    [Range(1, 24 * 3650, ErrorMessage = "Agents:ThreadTtlHours must be between 1 and 87600.")]
    public int ThreadTtlHours { get; set; } = 24;

    /// <summary>How long a run stays readable through <c>GET /v1/agents/runs/{id}</c>.</summary>
    [Range(1, 24 * 3650, ErrorMessage = "Agents:RunRetentionHours must be between 1 and 87600.")]
    public int RunRetentionHours { get; set; } = 168;

    /// <summary>
    /// The only hosts agents' MCP servers may be on (<c>tools.example.com</c>, or <c>*.example.com</c>
    /// for its subdomains), at any address — a private one included. Empty: any host whose addresses
    /// are all public (see <see cref="McpHostPolicy"/>).
    /// </summary>
    public List<string> McpAllowedHosts { get; set; } = [];
}

/// <summary>
/// Each allowed MCP host is a host name, or <c>*.</c> and one: a URL, a port or a bare <c>*</c> would
/// never match what it was meant to (or would match everything), so it stops the start instead.
/// </summary>
public sealed class McpAllowedHostsValidator : IValidateOptions<AgentOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentOptions options)
    {
        var wrong = options.McpAllowedHosts.Where(host => !string.IsNullOrWhiteSpace(host) && !IsHostPattern(host)).ToList();
        return wrong.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Agents:McpAllowedHosts takes host names ('tools.example.com') or '*.' and one ('*.example.com'); not: {string.Join(", ", wrong.Select(h => $"'{h}'"))}.");
    }

    private static bool IsHostPattern(string host)
    {
        var name = host.Trim();
        if (name.StartsWith("*.", StringComparison.Ordinal))
        {
            name = name[2..];
        }
        return Uri.CheckHostName(name) is UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6;
    }
}
