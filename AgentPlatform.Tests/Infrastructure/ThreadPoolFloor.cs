using System.Runtime.CompilerServices;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// Raises the thread pool's minimum for the test process before any test runs. The suite hosts dozens of
/// services in this one process (Routers, Apis, simulators on Kestrel), and <c>WebApplicationFactory</c>
/// starts each with a synchronous <c>StartServer()</c> that blocks a pool thread while the host's own
/// start-up (key migrations: Redis scripts) needs pool threads to finish. With four fixtures starting at
/// once on a two-core machine the pool starved: a full run saw a fixture's Redis EVAL time out after 5.5 s
/// with 83 work items queued, 12 workers busy and a minimum of 4 (the pool then adds about one thread a
/// second), and the in-process simulators' answers came seconds late — the same symptom as the rare
/// breaker test failure noted in issue 22. Threads blocked by the test harness must not delay the
/// services under test, so the pool starts with enough of them.
/// </summary>
internal static class ThreadPoolFloor
{
    private const int MinimumThreads = 64;

    [ModuleInitializer]
    internal static void Raise()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, MinimumThreads), Math.Max(io, MinimumThreads));
    }
}
