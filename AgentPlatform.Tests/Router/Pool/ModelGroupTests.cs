using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Routing;

namespace AgentPlatform.Tests.Router.Pool;

public sealed class ModelGroupTests
{
    private static readonly IRoutingStrategy First = new FirstCandidate();

    [Fact]
    public void The_lowest_priority_is_used_until_all_of_it_has_been_tried()
    {
        var primaryA = Deployment("primary-a", priority: 0);
        var primaryB = Deployment("primary-b", priority: 0);
        var backup = Deployment("backup", priority: 1);
        var group = new ModelGroup("g", [backup, primaryA, primaryB], First);

        Assert.Equal(primaryA, group.PickNext([]));
        Assert.Equal(primaryB, group.PickNext([primaryA]));
        Assert.Equal(backup, group.PickNext([primaryA, primaryB]));
        Assert.Null(group.PickNext([primaryA, primaryB, backup]));
    }

    [Fact]
    public void A_tried_deployment_is_never_picked_again_for_the_request()
    {
        var a = Deployment("a");
        var b = Deployment("b");
        var group = new ModelGroup("g", [a, b], new WeightedRoutingStrategy(new Random(3)));

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(b, group.PickNext([a]));
        }
    }

    internal static Deployment Deployment(string name, int priority = 0, double weight = 1, double price = 0) =>
        new(new DeploymentOptions { Name = name, BaseUrl = "http://localhost/v1", Model = "m", Weight = weight, Priority = priority, InputPricePerMillion = price }, TimeProvider.System);

    private sealed class FirstCandidate : IRoutingStrategy
    {
        public string Name => "first";

        public Deployment Pick(IReadOnlyList<Deployment> candidates) => candidates[0];
    }
}
