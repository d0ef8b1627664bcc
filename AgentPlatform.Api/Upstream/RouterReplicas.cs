using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.ServiceDiscovery;

namespace AgentPlatform.Api.Upstream;

/// <summary>
/// The Router replicas a completion may go to — every endpoint service discovery lists for <c>router</c>
/// (<c>services:router:http:0</c>, <c>:1</c>, …; one, a load balancer's, in a cloud deployment) — taken in
/// turn, passing over one that refused a connection in the last few seconds. Service discovery's own
/// round robin cannot pass over a replica that is gone, so with one of two killed every other request would
/// find it first; here the first refusal sends the request on to the next replica, and the next requests
/// go straight there until the gone one has had time to come back.
/// </summary>
public sealed class RouterReplicas(ServiceEndpointResolver resolver, TimeProvider timeProvider)
{
    /// <summary>How long a replica that refused a connection is passed over before it is tried again.</summary>
    internal static readonly TimeSpan RefusedFor = TimeSpan.FromSeconds(5);

    private const string ServiceName = "http://router";

    private ServiceEndpointSource? _source;
    private Uri[] _addresses = [];
    private readonly ConcurrentDictionary<Uri, long> _refusedUntil = new();
    private uint _next;

    /// <summary>Every replica's base address, as service discovery has them now.</summary>
    public async ValueTask<Uri[]> ListAsync(CancellationToken cancellationToken)
    {
        var source = await resolver.GetEndpointsAsync(ServiceName, cancellationToken);
        if (!ReferenceEquals(source, Volatile.Read(ref _source)))
        {
            // Built again only when the list changes (the resolver hands back the same source until then).
            Volatile.Write(ref _addresses, [.. source.Endpoints.Select(endpoint => AddressOf(endpoint.EndPoint))]);
            Volatile.Write(ref _source, source);
        }
        return Volatile.Read(ref _addresses);
    }

    /// <summary>The next replica in turn that has not refused lately (any, if all have).</summary>
    public Uri Pick(Uri[] addresses)
    {
        var start = Interlocked.Increment(ref _next);
        if (addresses.Length == 1)
        {
            return addresses[0];
        }
        var now = timeProvider.GetTimestamp();
        for (var i = 0; i < addresses.Length; i++)
        {
            var address = addresses[(start + i) % addresses.Length];
            if (!_refusedUntil.TryGetValue(address, out var until) || until <= now)
            {
                return address;
            }
        }
        return addresses[start % addresses.Length];
    }

    /// <summary>Passes over <paramref name="address"/> for a while: it refused a connection.</summary>
    public void Refused(Uri address) =>
        _refusedUntil[address] = timeProvider.GetTimestamp() + (long)(RefusedFor.TotalSeconds * timeProvider.TimestampFrequency);

    private static Uri AddressOf(EndPoint endPoint) => endPoint switch
    {
        UriEndPoint uri => uri.Uri,
        DnsEndPoint dns => new UriBuilder(Uri.UriSchemeHttp, dns.Host, dns.Port).Uri,
        IPEndPoint ip => new UriBuilder(Uri.UriSchemeHttp, ip.Address.ToString(), ip.Port).Uri,
        _ => new Uri(ServiceName),
    };
}
