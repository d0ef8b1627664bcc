using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Agents;

/// <summary>An MCP server an agent may not reach; the message says why, without the server's URL.</summary>
public sealed class McpHostRefusedException(string message) : Exception(message);

/// <summary>
/// Which hosts agents' MCP servers may be on, so an agent definition cannot make the Api call into its
/// own network (the Router, Redis, a cloud's metadata service at 169.254.169.254). With
/// <see cref="AgentOptions.McpAllowedHosts"/> empty, any host whose addresses are all public; with it
/// set, only the hosts it lists, at any address (a private tool server is listed to be reached).
/// </summary>
/// <remarks>
/// Checked when a definition is saved (an address given as such) and, since a name may resolve
/// anywhere and differently later, again on the resolved addresses when the <c>mcp</c> client connects
/// (its <see cref="SocketsHttpHandler.ConnectCallback"/>, so redirects are checked too, and no proxy is
/// used that would connect elsewhere).
/// </remarks>
public sealed class McpHostPolicy(IOptions<AgentOptions> options)
{
    private readonly string[] _allowed = [.. options.Value.McpAllowedHosts.Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h.Trim())];

    /// <summary>Why a definition may not name this server; null when it may.</summary>
    public string? Refuses(Uri url)
    {
        if (IsListed(url.IdnHost))
        {
            return null;
        }
        if (_allowed.Length > 0)
        {
            return $"its host '{url.IdnHost}' is not one of Agents:McpAllowedHosts";
        }
        return IPAddress.TryParse(url.IdnHost, out var address) && !IsPublic(address)
            ? "its address is private, loopback or link-local, which agents may not reach unless Agents:McpAllowedHosts lists it"
            : null;
    }

    /// <summary>The <c>mcp</c> client's connect: to a listed host, or to a host whose every address is public.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        IPAddress[] addresses;
        if (IsListed(host))
        {
            addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
        }
        else if (_allowed.Length > 0)
        {
            throw new McpHostRefusedException($"its host is not one of Agents:McpAllowedHosts");
        }
        else
        {
            addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
            if (addresses.Length == 0 || !addresses.All(IsPublic))
            {
                throw new McpHostRefusedException("its host resolves to a private, loopback or link-local address, which agents may not reach unless Agents:McpAllowedHosts lists the host");
            }
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private bool IsListed(string host)
    {
        foreach (var allowed in _allowed)
        {
            if (allowed.StartsWith("*.", StringComparison.Ordinal)
                ? host.EndsWith(allowed[1..], StringComparison.OrdinalIgnoreCase)
                : string.Equals(host, allowed, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Whether an address is on the public internet: not loopback, private, link-local, shared (CGNAT), unique-local, multicast or unspecified.</summary>
    internal static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return false;
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            address.TryWriteBytes(b, out _);
            return !(b[0] == 10 || b[0] == 0 || b[0] >= 224                         // private, "this network", multicast and reserved
                || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168) // private
                || (b[0] == 169 && b[1] == 254)                                       // link-local (cloud metadata)
                || (b[0] == 100 && b[1] is >= 64 and <= 127)                          // shared address space (CGNAT)
                || (b[0] == 192 && b[1] == 0 && b[2] == 0));                          // IETF protocol assignments
        }
        return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.IsIPv6Multicast || address.IsIPv6Teredo);
    }
}
