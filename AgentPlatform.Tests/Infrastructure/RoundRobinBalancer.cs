using System.Collections.Concurrent;
using System.Net.Sockets;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// A connection-level load balancer in front of several replicas, as a cloud's layer-4 balancer is: every
/// new connection goes to the next replica in turn, and stays with it. Clients made here send through it.
/// </summary>
public sealed class RoundRobinBalancer(IReadOnlyList<IRunningService> replicas)
{
    private readonly ConcurrentDictionary<Uri, int> _connections = new();
    private int _next = -1;

    /// <summary>How many connections each replica was given.</summary>
    public IReadOnlyDictionary<Uri, int> Connections => _connections;

    /// <summary>A client that presents <paramref name="key"/>, each of its connections to the next replica.</summary>
    public HttpClient Client(string key)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var replica = replicas[(int)((uint)Interlocked.Increment(ref _next) % replicas.Count)].BaseAddress;
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(replica.Host, replica.Port, cancellationToken);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
                _connections.AddOrUpdate(replica, 1, (_, count) => count + 1);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        var client = new HttpClient(handler) { BaseAddress = new Uri("http://balancer"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return client;
    }
}
